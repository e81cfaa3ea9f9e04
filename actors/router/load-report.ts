/**
 * The load this router reports per machine in its gossiped `routers` row: in-flight counts
 * rounded down to a band (0, 1, 2, 4, 8, …) so small changes do not cause a write each.
 */
export function band (inflight: number): number {
  if (inflight <= 0) return 0
  return 2 ** Math.floor(Math.log2(inflight))
}

export function loadBands (machines: Readonly<Record<string, { inflight: number }>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [id, m] of Object.entries(machines)) {
    const b = band(m.inflight)
    if (b > 0) out[id] = b
  }
  return out
}

export function sameLoads (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every(k => a[k] === b[k])
}

/** Writes at most this often (and only on change, plus a refresh while anything is in flight). */
export const LOAD_REPORT_MIN_MS = 250
export const LOAD_REPORT_REFRESH_MS = 5_000
