import type { Clock } from '../../../src/runtime/clock.js'

/**
 * A handle from `setTimeout`/`schedule`: a positive integer (never 0, so `if (handle)` works),
 * valid for `clearTimeout` until its event fires or is cleared.
 */
export type TimerHandle = number

/**
 * A {@link Clock} whose time moves only when the simulation says so, with every timer in one
 * queue ordered by (time, order of scheduling): a run is deterministic, and events due at the
 * same time run in the order they were scheduled.
 *
 * Running is synchronous. Code that awaits across time (`await sleep(clock, ms)`) resumes in a
 * microtask, i.e. only after the `run*` call returned, with virtual time already moved on;
 * code simulated here should be driven by callbacks.
 *
 * An exception thrown by an event propagates out of the `run*`/`step` call that ran it; the
 * event is gone, `now()` is its time, and the queue is intact, so running may continue.
 */
export interface VirtualClock extends Clock {
  /** Virtual ms. Starts at `startMs`; never goes backwards. */
  now: () => number
  /** Runs `fn` at `now() + ms` (negative `ms` counts as 0; a non-finite `ms` throws). */
  setTimeout: (fn: () => void, ms: number) => TimerHandle
  /** Cancels a pending event; anything else (a fired or foreign handle) is ignored. */
  clearTimeout: (handle: unknown) => void
  /** Runs `fn` at absolute time `atMs` (a time already past counts as now). */
  schedule: (atMs: number, fn: () => void) => TimerHandle
  /** Runs the next event, advancing `now()` to its time. False when nothing is pending. */
  step: () => boolean
  /**
   * Runs every event due at or before `ms` in order — including those scheduled meanwhile —
   * then sets `now()` to `ms`. Returns the number of events run. Throws if `ms < now()`.
   */
  runUntil: (ms: number) => number
  /** `runUntil(now() + ms)`. */
  runFor: (ms: number) => number
  /**
   * Runs events while `predicate()` holds, checking it before the first event and after each,
   * for at most `limitMs` of virtual time from now. Returns true as soon as the predicate is
   * false (`now()` is then the time of the event that made it so); otherwise advances `now()`
   * to the limit and returns whether the predicate is false there.
   */
  runWhile: (predicate: () => boolean, limitMs: number) => boolean
  /** Events scheduled and neither run nor cleared. */
  pending: () => number
  /** Events run since the clock was created. */
  processed: () => number
}

/** Options for {@link createVirtualClock}. */
export interface VirtualClockInit {
  /** Initial `now()`; 0 unless given. */
  startMs?: number
}

const INITIAL_CAPACITY = 1024
/** Handles pack (generation, slot): slot in the low 26 bits, generation ≥ 1 above them. */
const SLOT_SPACE = 2 ** 26
/** Keeps handles below 2^53; a slot's generation wraps back to 1 after this many reuses. */
const MAX_GENERATION = 2 ** 26
/** Cleared events are skipped lazily; once they are this many and half the queue, rebuild it. */
const COMPACT_MIN_CLEARED = 4096

function assertFiniteTime (what: string, ms: number): void {
  if (!Number.isFinite(ms)) throw new RangeError(`virtual clock: ${what} must be a finite number of ms, got ${ms}`)
}

/**
 * Creates a virtual clock. The queue is a binary min-heap over parallel typed arrays (time,
 * sequence, slot); callbacks live in a slot table, so scheduling allocates nothing beyond the
 * caller's closure, and clearing is O(1) (the event is skipped when it reaches the top).
 */
export function createVirtualClock (init: VirtualClockInit = {}): VirtualClock {
  let now = init.startMs ?? 0
  assertFiniteTime('startMs', now)

  // The heap: entry i is (heapTime[i], heapSeq[i]) → slot heapSlot[i].
  let capacity = INITIAL_CAPACITY
  let heapTime = new Float64Array(capacity)
  let heapSeq = new Float64Array(capacity)
  let heapSlot = new Int32Array(capacity)
  let size = 0
  let nextSeq = 0

  // Slots: the callback (undefined once run or cleared) and a generation that invalidates old handles.
  const slotFn: Array<(() => void) | undefined> = []
  let slotGen = new Int32Array(capacity)
  let freeSlots = new Int32Array(capacity)
  let freeCount = 0

  let cleared = 0 // entries in the heap whose slot was cleared
  let processed = 0
  let running = false

  function widen<A extends Float64Array | Int32Array> (old: A): A {
    const next = new (old.constructor as new (n: number) => A)(capacity)
    next.set(old)
    return next
  }

  function grow (): void {
    capacity *= 2
    heapTime = widen(heapTime)
    heapSeq = widen(heapSeq)
    heapSlot = widen(heapSlot)
    slotGen = widen(slotGen)
    freeSlots = widen(freeSlots)
  }

  function allocSlot (fn: () => void): number {
    if (freeCount > 0) {
      const slot = freeSlots[--freeCount] as number
      slotFn[slot] = fn
      return slot
    }
    const slot = slotFn.length
    if (slot >= SLOT_SPACE) throw new RangeError(`virtual clock: more than ${SLOT_SPACE} events pending`)
    slotFn.push(fn)
    slotGen[slot] = 1
    return slot
  }

  function releaseSlot (slot: number): void {
    slotFn[slot] = undefined
    const gen = (slotGen[slot] as number) + 1
    slotGen[slot] = gen >= MAX_GENERATION ? 1 : gen
    freeSlots[freeCount++] = slot
  }

  function siftUp (i: number, time: number, seq: number, slot: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pt = heapTime[parent] as number
      if (pt < time || (pt === time && (heapSeq[parent] as number) < seq)) break
      heapTime[i] = pt
      heapSeq[i] = heapSeq[parent] as number
      heapSlot[i] = heapSlot[parent] as number
      i = parent
    }
    heapTime[i] = time
    heapSeq[i] = seq
    heapSlot[i] = slot
  }

  function siftDown (i: number, time: number, seq: number, slot: number): void {
    const half = size >> 1
    while (i < half) {
      let child = 2 * i + 1
      let ct = heapTime[child] as number
      let cs = heapSeq[child] as number
      const right = child + 1
      if (right < size) {
        const rt = heapTime[right] as number
        const rs = heapSeq[right] as number
        if (rt < ct || (rt === ct && rs < cs)) {
          child = right
          ct = rt
          cs = rs
        }
      }
      if (time < ct || (time === ct && seq < cs)) break
      heapTime[i] = ct
      heapSeq[i] = cs
      heapSlot[i] = heapSlot[child] as number
      i = child
    }
    heapTime[i] = time
    heapSeq[i] = seq
    heapSlot[i] = slot
  }

  function removeTop (): void {
    size--
    if (size > 0) siftDown(0, heapTime[size] as number, heapSeq[size] as number, heapSlot[size] as number)
  }

  /** Drops cleared entries and re-heapifies; the (time, seq) order is total, so nothing reorders. */
  function compact (): void {
    let kept = 0
    for (let i = 0; i < size; i++) {
      const slot = heapSlot[i] as number
      if (slotFn[slot] === undefined) {
        releaseSlot(slot)
        continue
      }
      heapTime[kept] = heapTime[i] as number
      heapSeq[kept] = heapSeq[i] as number
      heapSlot[kept] = slot
      kept++
    }
    size = kept
    cleared = 0
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i, heapTime[i] as number, heapSeq[i] as number, heapSlot[i] as number)
  }

  function schedule (atMs: number, fn: () => void): TimerHandle {
    assertFiniteTime('event time', atMs)
    if (typeof fn !== 'function') throw new TypeError('virtual clock: callback must be a function')
    if (size === capacity) grow() // before allocSlot: slots never outnumber the heap's capacity
    const slot = allocSlot(fn)
    size++
    siftUp(size - 1, atMs < now ? now : atMs, nextSeq++, slot)
    return (slotGen[slot] as number) * SLOT_SPACE + slot
  }

  function clearTimeout (handle: unknown): void {
    if (typeof handle !== 'number' || !Number.isInteger(handle) || handle < SLOT_SPACE) return
    const gen = Math.floor(handle / SLOT_SPACE) // exact: a power of two
    const slot = handle - gen * SLOT_SPACE
    if (slot >= slotFn.length || slotGen[slot] !== gen || slotFn[slot] === undefined) return
    slotFn[slot] = undefined
    cleared++
    // Safe inside an event too: the running event has already left the heap.
    if (cleared >= COMPACT_MIN_CLEARED && cleared * 2 >= size) compact()
  }

  /** Takes the next live event due at or before `limit`; undefined if none. Sets `now`. */
  function takeDue (limit: number): (() => void) | undefined {
    while (size > 0) {
      const time = heapTime[0] as number
      if (time > limit) return undefined
      const slot = heapSlot[0] as number
      removeTop()
      const fn = slotFn[slot]
      releaseSlot(slot)
      if (fn === undefined) {
        cleared--
        continue
      }
      now = time
      processed++
      return fn
    }
    return undefined
  }

  function enter (what: string): void {
    if (running) throw new Error(`virtual clock: ${what} called from inside an event`)
    running = true
  }

  function runUntil (ms: number): number {
    assertFiniteTime('runUntil limit', ms)
    if (ms < now) throw new RangeError(`virtual clock: runUntil(${ms}) is before now (${now})`)
    enter('runUntil')
    const before = processed
    try {
      for (let fn = takeDue(ms); fn !== undefined; fn = takeDue(ms)) fn()
      now = ms
    } finally {
      running = false
    }
    return processed - before
  }

  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      assertFiniteTime('timeout', ms)
      return schedule(now + (ms > 0 ? ms : 0), fn)
    },
    clearTimeout,
    schedule,
    step: () => {
      enter('step')
      try {
        const fn = takeDue(Infinity)
        if (fn === undefined) return false
        fn()
        return true
      } finally {
        running = false
      }
    },
    runUntil,
    runFor: (ms) => {
      assertFiniteTime('runFor duration', ms)
      if (ms < 0) throw new RangeError(`virtual clock: runFor(${ms}) is negative`)
      return runUntil(now + ms)
    },
    runWhile: (predicate, limitMs) => {
      assertFiniteTime('runWhile limit', limitMs)
      if (limitMs < 0) throw new RangeError(`virtual clock: runWhile limit ${limitMs} is negative`)
      const deadline = now + limitMs
      if (!predicate()) return true
      enter('runWhile')
      try {
        for (let fn = takeDue(deadline); fn !== undefined; fn = takeDue(deadline)) {
          fn()
          if (!predicate()) return true
        }
        now = deadline
      } finally {
        running = false
      }
      return !predicate()
    },
    pending: () => size - cleared,
    processed: () => processed
  }
}
