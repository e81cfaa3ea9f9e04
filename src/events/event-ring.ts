import type { RoostEvent } from './event-kinds.js'

/** The newest events of a stream, oldest first, in a fixed number of slots. */
export interface EventRing {
  readonly capacity: number
  /** Adds the newest event (its seq above every other), dropping the oldest when full. */
  push: (e: RoostEvent) => void
  size: () => number
  oldest: () => RoostEvent | undefined
  /** The events whose seq is above `seq`, oldest first. */
  after: (seq: number) => Generator<RoostEvent>
}

export function createEventRing (capacity: number): EventRing {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`an event ring needs at least one slot (got ${capacity})`)
  const slots: Array<RoostEvent | undefined> = new Array(capacity)
  let start = 0
  let count = 0
  const at = (i: number): RoostEvent => slots[(start + i) % capacity] as RoostEvent

  /** Index of the first event with a seq above `seq` (seqs ascend, so a binary search). */
  const firstAfter = (seq: number): number => {
    let lo = 0
    let hi = count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (at(mid).seq <= seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  return {
    capacity,
    push (e) {
      if (count < capacity) {
        slots[(start + count) % capacity] = e
        count++
        return
      }
      slots[start] = e
      start = (start + 1) % capacity
    },
    size: () => count,
    oldest: () => count === 0 ? undefined : at(0),
    * after (seq) {
      for (let i = firstAfter(seq); i < count; i++) yield at(i)
    }
  }
}
