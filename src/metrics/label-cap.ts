/** The label value that stands for every value past a cap. */
export const OTHER = 'other'

/**
 * Bounds one label's values: the first `max` distinct values pass as they are, later new ones
 * become `other`, so a peer sending made-up message types cannot grow the series without end.
 */
export function createLabelCap (max: number): (value: string) => string {
  const seen = new Set<string>()
  return (value) => {
    if (seen.has(value)) return value
    if (seen.size >= max) return OTHER
    seen.add(value)
    return value
  }
}

/** The family of an actor path: its first two segments (`/agent/machines/m1` → `/agent/machines`). */
export function actorFamily (path: string): string {
  const second = path.indexOf('/', 1)
  if (second < 0) return path
  const third = path.indexOf('/', second + 1)
  return third < 0 ? path : path.slice(0, third)
}

/** How a host appears in labels: the first 12 hex digits of its id, as in logs and `roost members`. */
export function peerLabel (hostId: string): string {
  return hostId.slice(0, 12)
}
