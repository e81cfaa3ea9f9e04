import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connectControl, type ControlClient } from '../../src/api/control-client.js'
import type { LabHost } from '../../src/lab/lab.js'
import { machineRowKey } from '../../src/placement/machine-rows.js'
import { stateDir } from '../../test/helpers/router-lab.js'

// What the failover bench watches while a host dies, polled fast from the bench process: every
// survivor's membership (over its control socket: when it marked the dead host suspect and dead,
// by the survivor's own changedAt, the same clock as the kill's), the replacement's row (its next
// generation started, and where), and the replacement's own request log (the first request the
// router sent it).

export const WATCH_EVERY_MS = 25

/** When one survivor saw the dead host go (ms since the epoch; null: not seen). */
export interface SurvivorView {
  host: string
  suspectAt: number | null
  deadAt: number | null
}

export interface Watch<T> {
  /** Stops polling and resolves with what was seen. */
  stop: () => Promise<T>
  /** Resolves once what is watched has all happened (or rejects at the deadline). */
  settled: Promise<void>
}

const pause = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Polls `fn` every WATCH_EVERY_MS until it returns true, `stop` is asked, or `deadline` passes. */
function pollLoop (fn: () => Promise<boolean>, deadline: number, what: string): { stop: () => Promise<void>, settled: Promise<void> } {
  let stopping = false
  const settled = (async () => {
    while (!stopping) {
      if (await fn()) return
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await pause(WATCH_EVERY_MS)
    }
  })()
  settled.catch(() => {})
  return { stop: async () => { stopping = true; await settled.catch(() => {}) }, settled }
}

/** Watches every survivor until each has marked `victimId` dead. */
export async function watchMembership (survivors: LabHost[], victimId: string, deadline: number): Promise<Watch<SurvivorView[]>> {
  const clients = new Map<string, ControlClient>()
  for (const h of survivors) clients.set(h.name, await connectControl(h.socketPath))
  const views = survivors.map((h): SurvivorView => ({ host: h.name, suspectAt: null, deadAt: null }))
  const loop = pollLoop(async () => {
    await Promise.all(views.map(async v => {
      if (v.deadAt !== null) return
      const members = await (clients.get(v.host) as ControlClient).call(async api => await api.members())
      const m = members.find(x => x.hostId === victimId)
      if (m === undefined) throw new Error(`${v.host} does not list ${victimId}`)
      if (m.state === 'suspect' && v.suspectAt === null) v.suspectAt = m.changedAt
      if (m.state === 'dead' || m.state === 'left') v.deadAt = m.changedAt
    }))
    return views.every(v => v.deadAt !== null)
  }, deadline, `every survivor to mark ${victimId} dead`)
  return {
    settled: loop.settled,
    stop: async () => {
      await loop.stop()
      for (const c of clients.values()) c.close()
      return views
    }
  }
}

/** The replacement as the bench saw it: its row started, and the first request its app logged. */
export interface ReplacementView {
  /** When the next generation's row was first seen started on the router host (poll time). */
  startedAt: number | null
  /** When that row was first seen with its checks passing. */
  healthyAt: number | null
  /** That row's own updatedAt: when its host wrote it (its checks had just passed). */
  healthyWrittenAt: number | null
  host: string | null
  /** The `at` of the first request (not a health check) the replacement's app logged. */
  firstRequestAt: number | null
}

interface LoggedRequest { at: number, path: string }

/**
 * Watches the router host's replica for `<id>.g<generation>` started, and the machine's request
 * log. The log is shared by every copy of the id (router-echo writes under /tmp by machine id):
 * the caller moves the dead copy's log away after the kill, so every line in it now is the
 * replacement's.
 */
export async function watchReplacement (router: LabHost, machineId: string, generation: number, deadline: number): Promise<Watch<ReplacementView>> {
  const client = await connectControl(router.socketPath)
  const key = machineRowKey(machineId, generation)
  const view: ReplacementView = { startedAt: null, healthyAt: null, healthyWrittenAt: null, host: null, firstRequestAt: null }
  const log = join(stateDir(machineId), 'requests.jsonl')
  const loop = pollLoop(async () => {
    if (view.healthyAt === null) {
      const rows = await client.call(async api => await api.state('machines'))
      const data = rows.find(r => r.key === key && !r.deleted)?.data
      if (data?.state === 'started' && view.startedAt === null) {
        view.startedAt = Date.now()
        view.host = typeof data.host === 'string' ? data.host : null
      }
      if (data?.state === 'started' && data.health === 'passing') {
        view.healthyAt = Date.now()
        view.healthyWrittenAt = typeof data.updatedAt === 'number' ? data.updatedAt : null
      }
    }
    if (view.firstRequestAt === null) {
      const text = await readFile(log, 'utf8').catch(() => '')
      const first = text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as LoggedRequest).find(r => r.path !== '/health')
      if (first !== undefined) view.firstRequestAt = first.at
    }
    return view.healthyAt !== null && view.firstRequestAt !== null
  }, deadline, `${key} started and receiving requests`)
  return {
    settled: loop.settled,
    stop: async () => {
      await loop.stop()
      client.close()
      return view
    }
  }
}
