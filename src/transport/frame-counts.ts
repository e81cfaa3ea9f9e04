/** Hosts counted before the table starts afresh (admitted hosts only send frames; this bounds it anyway). */
const MAX_HOSTS = 10_000

/**
 * Frames received per host, counted where they reach this process: the liveness evidence
 * behind `Transport.framesFrom`. A count only grows, except that a table over
 * {@link MAX_HOSTS} hosts starts afresh, which can only make a host look less heard from.
 */
export interface FrameCounts {
  add: (host: string, n: number) => void
  of: (host: string) => number
}

export function createFrameCounts (): FrameCounts {
  const counts = new Map<string, number>()
  return {
    add (host, n) {
      const c = counts.get(host)
      if (c === undefined && counts.size >= MAX_HOSTS) counts.clear()
      counts.set(host, (c ?? 0) + n)
    },
    of: (host) => counts.get(host) ?? 0
  }
}
