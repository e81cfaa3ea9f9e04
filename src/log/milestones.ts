/** Per event, a count is recorded this many times at most (a host never has more peers in a lab). */
export const MAX_COUNTS_PER_EVENT = 256
export const MAX_EVENTS = 64

/** One milestone: `event` first reached `n` at `at` (epoch ms). */
export interface Milestone {
  event: string
  n: number
  at: number
}

/**
 * When this process first got somewhere on its way up: DHT announce, first stream peer, wireguard-go
 * up, the n-th tunnel peer configured or handshaken… Only the first time a count is reached is kept,
 * so a counter that goes down and up again (a restart, a peer lost and found) adds nothing; the set
 * is bounded. Read by `roost`'s control API (`timeline`) and the mesh bench's per-host timeline.
 */
export interface Milestones {
  /** Records that `event` reached count `n` (default 1) now, or at `at` (epoch ms) when given; only the first time. */
  reach: (event: string, n?: number, at?: number) => void
  /** Everything recorded, in time order. */
  list: () => Milestone[]
}

/** Milestones on `components.clock`; `init.origin` (epoch ms) is recorded as the event `process` (e.g. `performance.timeOrigin`). */
export function createMilestones (init: { origin?: number }, components: { clock: { now: () => number } }): Milestones {
  const seen = new Map<string, Map<number, number>>()
  const reach = (event: string, n = 1, at = components.clock.now()): void => {
    let counts = seen.get(event)
    if (counts === undefined) {
      if (seen.size >= MAX_EVENTS) return
      counts = new Map()
      seen.set(event, counts)
    }
    if (counts.has(n) || counts.size >= MAX_COUNTS_PER_EVENT) return
    counts.set(n, at)
  }
  if (init.origin !== undefined) reach('process', 1, init.origin)
  return {
    reach,
    list () {
      const out: Milestone[] = []
      for (const [event, counts] of seen) for (const [n, at] of counts) out.push({ event, n, at })
      return out.sort((a, b) => a.at - b.at || (a.event < b.event ? -1 : a.event > b.event ? 1 : a.n - b.n))
    }
  }
}

/** A counter of distinct keys (hosts) that reports each new size as a milestone. */
export function distinctCounter (milestones: Milestones, event: string): (key: string) => void {
  const keys = new Set<string>()
  return (key) => {
    if (keys.has(key) || keys.size >= MAX_COUNTS_PER_EVENT) return
    keys.add(key)
    milestones.reach(event, keys.size)
  }
}
