import { isRoutable, type AppRoute, type HostRoute, type MachineRoute, type RouteTable, type ServiceRoute } from './route-table.js'

/** Client hints (Fly's fly-prefer-region / fly-force-instance-id). */
export interface PickHints {
  preferRegion?: string
  forceInstance?: string
  /** Replays to a region: machines elsewhere are not candidates. */
  onlyRegion?: string
}

export interface PickInput {
  table: RouteTable
  app: AppRoute
  service: ServiceRoute
  /** What this router itself has in flight to a machine now. */
  inflight: (machineId: string) => number
  hints?: PickHints
  /** Machines already tried for this request. */
  exclude?: ReadonlySet<string>
  random?: () => number
}

export interface Candidate {
  machine: MachineRoute
  host: HostRoute | undefined
  /** This router's in-flight plus what other routers report. */
  load: number
  overSoft: boolean
  /** Sort key: over the soft limit, outside a preferred region, closeness band, load. */
  rank: number
  tie: number
}

export interface Pick {
  /** Routable machines under their hard limit, best first. */
  order: Candidate[]
  /** Routable machines exist, but each is at its hard limit. */
  atHardLimit: boolean
  /**
   * Every candidate in `order` is over its soft limit, and no capacity is on its way (a machine
   * starting, or started but under its soft limit while it waits for its first check): time to
   * start another machine.
   */
  allOverSoft: boolean
  /** Stopped or suspended machines that autostart could wake. */
  startable: number
  /**
   * Machines on their way up (starting, replacing) or down (stopping, suspending: autostart
   * can wake them once they are down): a request waits for them as for an autostart.
   */
  transitioning: number
  /** Machines exist that are started but not yet passing their checks. */
  pending: number
}

/** RTT granularity of "closest": hosts within the same 5 ms band count as equally close. */
export const RTT_BAND_MS = 5
const UNKNOWN_RTT_MS = 250

function closeness (table: RouteTable, m: MachineRoute, host: HostRoute | undefined): number {
  if (m.local) return 0
  const band = Math.floor((host?.rttMs ?? UNKNOWN_RTT_MS) / RTT_BAND_MS)
  return (m.region === table.region ? 1 : 1_000) + band
}

/**
 * Orders an app's machines for one request or connection, as Fly's proxy does: only started
 * machines whose checks pass (machines still waiting for their first check only when none
 * pass), those under their soft limit first, among them the closest (this host, then this
 * region, then by gossip RTT), then the least loaded, ties at random; over the soft limit only
 * when every machine is, never at the hard limit. When nothing else is left, machines whose
 * only fault is that their host is suspect are tried rather than answering an error: a
 * suspicion is often refuted within a gossip round (after a partition heals, say), and a
 * machine that really is gone fails its connect and the request moves on.
 */
export function pickMachines (input: PickInput): Pick {
  const { table, app, service } = input
  const random = input.random ?? Math.random
  const { softLimit, hardLimit } = service.concurrency
  const force = input.hints?.forceInstance
  const prefer = input.hints?.preferRegion
  const healthy: Candidate[] = []
  const waiting: Candidate[] = []
  /** Machines whose only fault is a suspect host: the last resort, rather than an error (Envoy's panic mode, narrowed). */
  const suspected: Candidate[] = []
  let atHard = 0
  let startable = 0
  let transitioning = 0
  let comingUp = 0
  for (const m of app.machines) {
    if (force !== undefined && m.id !== force) continue
    if (input.hints?.onlyRegion !== undefined && m.region !== input.hints.onlyRegion) continue
    if (m.state === 'stopped' || m.state === 'suspended' || m.state === 'created') {
      if (!m.cordoned) startable++
      continue
    }
    if (m.state === 'starting' || m.state === 'replacing' || m.state === 'stopping' || m.state === 'suspending') {
      transitioning++
      if (m.state === 'starting' || m.state === 'replacing') comingUp++
      continue
    }
    if (input.exclude?.has(m.id) === true) continue
    const host = m.local ? undefined : table.hosts[m.host]
    const onSuspect = host?.state === 'suspect'
    if (!isRoutable(m, onSuspect ? { ...host, state: 'alive' } : host)) continue
    if (!m.namespaced && service.internalPort !== m.guestPort) continue
    // Everything sent to a local machine passes through this router (other routers' requests come
    // in over the backhaul), so its own count is exact; elsewhere add what the other routers report.
    const load = m.local ? input.inflight(m.id) : input.inflight(m.id) + m.remoteInflight
    if (load >= hardLimit) { if (!onSuspect) atHard++; continue }
    const c: Candidate = { machine: m, host, load, overSoft: !onSuspect && load >= softLimit, rank: 0, tie: 0 }
    if (onSuspect) { if (m.health !== 'warning') suspected.push(c) } else if (m.health === 'warning') waiting.push(c)
    else healthy.push(c)
  }
  const pool = healthy.length > 0 ? healthy : waiting.length > 0 ? waiting : suspected
  if (pool.length > 1) {
    for (const c of pool) {
      c.rank = (c.overSoft ? 4e12 : 0) + (prefer !== undefined && c.machine.region !== prefer ? 2e12 : 0) +
        closeness(table, c.machine, c.host) * 1e7 + Math.min(c.load, 9_999_999)
      c.tie = random()
    }
    pool.sort((a, b) => a.rank - b.rank || a.tie - b.tie)
  }
  const order = pool
  return {
    order,
    atHardLimit: order.length === 0 && atHard > 0,
    allOverSoft: order.length > 0 && order.every(c => c.overSoft) && comingUp === 0 && waiting.every(c => c.overSoft),
    startable,
    transitioning,
    pending: healthy.length === 0 ? waiting.length : 0
  }
}
