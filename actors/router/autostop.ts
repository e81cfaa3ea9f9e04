import type { AutoStop, MachineRoute, RouteTable } from '../../src/proxy/route-table.js'

/** What the data plane last reported for a machine. */
export interface MachineActivity {
  inflight: number
  backhaulOpen: number
  lastActivity: number
}

export interface AutostopInput {
  now: number
  /** A machine idle for this long is stopped (or suspended). */
  idleMs: number
  table: RouteTable
  activity: Readonly<Record<string, MachineActivity>>
  /** When this router first saw each machine started (activity before that is unknown). */
  startedSince: ReadonlyMap<string, number>
  /** Machines already being stopped. */
  busy: ReadonlySet<string>
}

export interface AutostopDecision {
  machine: MachineRoute
  mode: Exclude<AutoStop, 'off'>
}

/**
 * Which of this host's machines to stop now, as Fly's autostop does: machines of apps with
 * `auto_stop_machines` on, idle (nothing in flight from any router, no bytes) for the interval,
 * beyond the app's `min_machines_running`. Every host decides only for its own machines, and
 * the machines kept running are the same on every host (started machines in the primary region
 * first, then by id), so two hosts never both stop "the last one".
 */
export function machinesToStop (input: AutostopInput): AutostopDecision[] {
  const out: AutostopDecision[] = []
  for (const app of Object.values(input.table.apps)) {
    const policy = app.services.find(s => s.autoStop !== 'off')
    if (policy === undefined || policy.autoStop === 'off') continue
    const min = Math.max(...app.services.map(s => s.minMachinesRunning))
    const running = app.machines.filter(m => m.state === 'started' && !m.cordoned &&
      (m.local || input.table.hosts[m.host]?.state === 'alive'))
    if (running.length <= min) continue
    const primary = app.primaryRegion
    const ordered = [...running].sort((a, b) => {
      const pa = primary !== null && a.region === primary ? 0 : 1
      const pb = primary !== null && b.region === primary ? 0 : 1
      return pa - pb || (a.id < b.id ? -1 : 1)
    })
    const keep = new Set(ordered.slice(0, min).map(m => m.id))
    for (const m of ordered) {
      if (!m.local || keep.has(m.id) || input.busy.has(m.id)) continue
      const act = input.activity[m.id]
      const since = Math.max(act?.lastActivity ?? 0, input.startedSince.get(m.id) ?? input.now)
      const idle = (act === undefined || (act.inflight === 0 && act.backhaulOpen === 0)) && m.remoteInflight === 0
      if (idle && input.now - since >= input.idleMs) out.push({ machine: m, mode: policy.autoStop })
    }
  }
  return out
}

/** A `machines` row as the router keeps it. */
export interface MachineRowLike {
  deleted: boolean
  data: Record<string, unknown> | null
}

/**
 * Whether a machine autostop began stopping (or suspending) at `since` is down: its row is gone,
 * or its state was written since then and is no longer stopping/suspending (stopped, suspended,
 * failed; or started again when a suspend failed). Until then it stays cordoned: uncordoned
 * earlier, a machine still going down would look like one to wake.
 */
export function isDownSince (row: MachineRowLike | undefined, since: number): boolean {
  if (row === undefined || row.deleted || row.data === null) return true
  const { state, updatedAt } = row.data
  if (typeof updatedAt !== 'number' || updatedAt < since) return false
  return state !== 'stopping' && state !== 'suspending'
}
