import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, sep } from 'node:path'
import type { RowView } from '../../../src/api/control-api.js'
import { controlCall, pidsInNetns } from '../../../src/lab/lab-agents.js'
import type { LabHost } from '../../../src/lab/lab.js'
import { currentMachineRows, generationOf, machineIdOf } from '../../../src/placement/machine-rows.js'
import { readStoredMachines } from '../../../src/vmm/machine-store.js'
import { isSameProcess, readStartTicks } from '../../../src/vmm/proc-info.js'
import { liveVmsOf } from '../../../src/vmm/vm-sweep.js'
import { retry } from '../../helpers/retry.js'

/** What should run in the end: `count` machines of `app` (any number when absent), each in `state` (default started). */
export interface Desired {
  app: string
  count?: number
  state?: string
}

/** A machine's current generation as one host's replica has it. */
export interface CurrentMachine {
  id: string
  app: string
  /** Host name of the owner of the current generation. */
  owner: string
  generation: number
  state: string
}

/** A machine's process (a VM, or a process-driver app) alive on a host. */
export interface LiveMachine {
  host: string
  id: string
  pid: number
  /** Whether the host's machine store records this pid for the machine. */
  recorded: boolean
}

/** What every host's replica says and what runs on every host, read at one moment. */
export interface Census {
  /** Per host whose agent answered: the current generation of every machine of the apps looked at. */
  views: Record<string, CurrentMachine[]>
  /** Hosts whose agent did not answer. */
  silent: string[]
  /** Per host with an answering agent: machine ids with two rows (not destroyed) of their highest generation (two copies made at once). */
  forked: Record<string, string[]>
  live: LiveMachine[]
}

function hostIdOf (h: LabHost): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(h.dataDir, 'agent.json'), 'utf8')) as { hostId?: string }).hostId
  } catch {
    return undefined
  }
}

async function machineIdOfPid (pid: number, machinesDir: string): Promise<string | undefined> {
  const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '')
  const fromEnv = environ.split('\0').find(e => e.startsWith('ROOST_MACHINE_ID='))
  if (fromEnv !== undefined) return fromEnv.slice('ROOST_MACHINE_ID='.length)
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')
  const named = argv.find(a => a.includes(machinesDir))
  return named === undefined ? undefined : named.slice(named.indexOf(machinesDir) + machinesDir.length).split(sep)[0]
}

/**
 * The machine processes alive on a host: every process in its namespace that carries a machine
 * id (the process driver's ROOST_MACHINE_ID, or a QEMU command line naming a machine's
 * directory), plus whatever its machine store records as alive; each marked recorded or not.
 */
export async function liveMachinesOn (h: LabHost): Promise<LiveMachine[]> {
  const machinesDir = join(h.dataDir, 'machines') + sep
  const recorded = new Map<number, string>()
  for (const m of readStoredMachines(join(h.dataDir, 'machines.db'))) {
    const rt = m.record.runtime as { pid?: unknown, pidStartTicks?: unknown } | null | undefined
    if (typeof rt?.pid === 'number' && typeof rt.pidStartTicks === 'number' && isSameProcess(rt.pid, rt.pidStartTicks)) recorded.set(rt.pid, m.id)
  }
  const found = new Map<number, LiveMachine>()
  for (const pid of await pidsInNetns(h.netns)) {
    const id = await machineIdOfPid(pid, machinesDir)
    const ticks = readStartTicks(pid)
    if (id === undefined || ticks === null || !isSameProcess(pid, ticks)) continue
    found.set(pid, { host: h.name, id, pid, recorded: recorded.get(pid) === id })
  }
  for (const vm of liveVmsOf(h.dataDir)) {
    if (!found.has(vm.pid)) found.set(vm.pid, { host: h.name, id: vm.machineId, pid: vm.pid, recorded: recorded.get(vm.pid) === vm.machineId })
  }
  return [...found.values()]
}

async function rowsOf (h: LabHost): Promise<RowView[]> {
  return await controlCall(h.socketPath, async api => await api.state('machines', { includeDeleted: true }), 10_000)
}

/** Reads every host's replica (machines of `apps`) and every host's machine processes. */
export async function takeCensus (hosts: readonly LabHost[], apps: readonly string[]): Promise<Census> {
  const names = new Map<string, string>()
  for (const h of hosts) { const id = hostIdOf(h); if (id !== undefined) names.set(id, h.name) }
  const views: Record<string, CurrentMachine[]> = {}
  const forked: Record<string, string[]> = {}
  const silent: string[] = []
  const live: LiveMachine[] = []
  await Promise.all(hosts.map(async h => {
    live.push(...await liveMachinesOn(h))
    let rows: RowView[]
    try { rows = await rowsOf(h) } catch { silent.push(h.name); return }
    const ours = rows.filter(r => typeof r.data?.app !== 'string' || apps.includes(r.data.app as string))
    views[h.name] = currentMachineRows(ours).filter(r => apps.includes(String(r.data?.app))).map(r => ({
      id: machineIdOf(r),
      app: String(r.data?.app),
      owner: names.get(r.owner) ?? r.owner,
      generation: generationOf(r.data as Record<string, unknown>),
      state: String(r.data?.state)
    })).sort((a, b) => a.id.localeCompare(b.id))
    const top = new Map<string, { gen: number, owners: Set<string> }>()
    for (const r of ours) {
      if (r.deleted || r.data === null || r.data.state === 'destroyed') continue
      const id = machineIdOf(r)
      const gen = generationOf(r.data)
      const cur = top.get(id)
      if (cur === undefined || gen > cur.gen) top.set(id, { gen, owners: new Set([r.owner]) })
      else if (gen === cur.gen) cur.owners.add(r.owner)
    }
    forked[h.name] = [...top].filter(([, v]) => v.owners.size > 1).map(([id]) => id)
  }))
  return { views, silent: silent.sort(), forked, live: live.sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid) }
}

const fmt = (m: CurrentMachine): string => `${m.id}@${m.owner}.g${m.generation}:${m.state}`

/**
 * Everything that is not as desired: a host that does not answer; replicas that disagree or
 * hold the wrong number or state of machines; a machine that runs other than exactly once, or
 * not on the host owning its current generation; a machine process nobody's current row
 * accounts for (an orphan: stale, destroyed, or never recorded); a live process its host's
 * machine store does not record.
 */
export function violations (c: Census, desired: readonly Desired[]): string[] {
  const out: string[] = []
  for (const h of c.silent) out.push(`${h}: the agent does not answer`)
  const hosts = Object.keys(c.views).sort()
  const first = hosts[0]
  if (first === undefined) return [...out, 'no agent answered']
  const reference = c.views[first] ?? []
  for (const h of hosts.slice(1)) {
    const a = reference.map(fmt).join(' ')
    const b = (c.views[h] ?? []).map(fmt).join(' ')
    if (a !== b) out.push(`replicas disagree: ${first} has [${a}], ${h} has [${b}]`)
  }
  for (const [h, ids] of Object.entries(c.forked)) if (ids.length > 0) out.push(`${h}: two copies of one generation of ${ids.join(', ')}`)
  for (const d of desired) {
    const mine = reference.filter(m => m.app === d.app)
    if (d.count !== undefined && mine.length !== d.count) out.push(`${d.app}: ${mine.length} machines in ${first}'s replica, want ${d.count}: [${mine.map(fmt).join(' ')}]`)
    const want = d.state ?? 'started'
    for (const m of mine) if (m.state !== want) out.push(`${d.app}: ${fmt(m)} is not ${want}`)
  }
  const current = new Map(reference.map(m => [m.id, m]))
  for (const m of reference) {
    const copies = c.live.filter(l => l.id === m.id)
    const runs = m.state === 'started' ? 1 : 0
    if (copies.length !== runs) out.push(`${fmt(m)} runs ${copies.length} times (want ${runs}): ${copies.map(l => `${l.host} pid ${l.pid}`).join(', ') || 'nowhere'}`)
    for (const l of copies) if (l.host !== m.owner) out.push(`${fmt(m)} has a process on ${l.host} (pid ${l.pid}), not on its owner`)
  }
  for (const l of c.live) {
    if (!current.has(l.id)) out.push(`orphan: pid ${l.pid} on ${l.host} runs machine ${l.id}, which no current row accounts for`)
    if (!l.recorded) out.push(`pid ${l.pid} on ${l.host} runs machine ${l.id} but the host's machine store does not record it`)
  }
  return out
}

/** One line per host: its view of the machines and what runs there. */
export function describeCensus (c: Census): string {
  const lines = Object.entries(c.views).map(([h, v]) => `  ${h} replica: ${v.map(fmt).join(' ') || '-'}`)
  lines.push(`  live: ${c.live.map(l => `${l.id}@${l.host}(pid ${l.pid}${l.recorded ? '' : ', unrecorded'})`).join(' ') || '-'}`)
  if (c.silent.length > 0) lines.push(`  silent: ${c.silent.join(', ')}`)
  return lines.join('\n')
}

/** Waits until the census shows no violation; throws with the last violations and census. */
export async function converged (hosts: readonly LabHost[], desired: readonly Desired[], timeoutMs = 90_000): Promise<Census> {
  const apps = desired.map(d => d.app)
  let last: { census: Census, found: string[] } | undefined
  try {
    return await retry(async () => {
      const census = await takeCensus(hosts, apps)
      const found = violations(census, desired)
      last = { census, found }
      return found.length === 0 && census
    }, { timeoutMs, intervalMs: 500, what: 'every desired machine running exactly once, no orphan' })
  } catch (err) {
    if (last === undefined) throw err
    throw new Error(`${(err as Error).message}:\n  - ${last.found.join('\n  - ')}\n${describeCensus(last.census)}`)
  }
}
