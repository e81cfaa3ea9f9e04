/** Per machine: what this router sends it now, in total, and when traffic last moved. */
export interface MachineLoad {
  /** Requests (http) or connections (tcp) in flight to the machine through this router: as an edge, plus (for its local machines) those other routers backhaul here. */
  inflight: number
  /** The part of `inflight` that came from other routers (what this router reports is the rest). */
  hosted: number
  total: number
  /** Backhaul connections from other routers to this (local) machine that are open now. */
  backhaulOpen: number
  lastActivity: number
}

/** Counters a data plane keeps; read by the router actor through snapshots and stats ticks. */
export interface LoadTracker {
  inflight: (machine: string) => number
  /** `hosted`: a request or connection another router backhauled here. */
  acquire: (machine: string, now: number, hosted?: boolean) => void
  release: (machine: string, now: number, hosted?: boolean) => void
  backhaulOpened: (machine: string, now: number) => void
  backhaulClosed: (machine: string, now: number) => void
  touch: (machine: string, now: number) => void
  /** Counts one answer for an app: an HTTP status class (`2xx`…) or a result code (`PR01`…). */
  count: (app: string, result: string) => void
  machines: () => ReadonlyMap<string, MachineLoad>
  counters: () => Record<string, Record<string, number>>
  /** Called when capacity may have freed up (a release). */
  onRelease: (fn: (machine: string) => void) => void
  /** Drops idle entries of machines no longer routed (so the figures stay bounded). */
  forget: (known: ReadonlySet<string>) => void
}

export function createLoadTracker (): LoadTracker {
  const loads = new Map<string, MachineLoad>()
  const counters: Record<string, Record<string, number>> = {}
  const releaseListeners: Array<(machine: string) => void> = []
  const get = (id: string, now: number): MachineLoad => {
    let l = loads.get(id)
    if (l === undefined) {
      l = { inflight: 0, hosted: 0, total: 0, backhaulOpen: 0, lastActivity: now }
      loads.set(id, l)
    }
    return l
  }
  return {
    inflight: (id) => loads.get(id)?.inflight ?? 0,
    acquire (id, now, hosted = false) {
      const l = get(id, now)
      l.inflight++
      if (hosted) l.hosted++
      l.total++
      l.lastActivity = now
    },
    release (id, now, hosted = false) {
      const l = get(id, now)
      if (l.inflight > 0) l.inflight--
      if (hosted && l.hosted > 0) l.hosted--
      l.lastActivity = now
      for (const fn of releaseListeners) fn(id)
    },
    backhaulOpened (id, now) {
      const l = get(id, now)
      l.backhaulOpen++
      l.lastActivity = now
    },
    backhaulClosed (id, now) {
      const l = get(id, now)
      if (l.backhaulOpen > 0) l.backhaulOpen--
      l.lastActivity = now
    },
    touch (id, now) { get(id, now).lastActivity = now },
    count (app, result) {
      const c = counters[app] ?? (counters[app] = {})
      c[result] = (c[result] ?? 0) + 1
    },
    machines: () => loads,
    counters: () => counters,
    onRelease: (fn) => { releaseListeners.push(fn) },
    forget (known) {
      for (const [id, l] of loads) if (!known.has(id) && l.inflight === 0 && l.backhaulOpen === 0) loads.delete(id)
    }
  }
}
