import type { Clock } from '../runtime/clock.js'

/** 2024-01-01T00:00:00Z: a version's physical part counts milliseconds from here. */
export const HLC_EPOCH_MS = Date.UTC(2024, 0, 1)
/** Logical ticks per millisecond: the counter is the low 12 bits of a version. */
export const HLC_COUNTER_SPAN = 4096
/**
 * The last wall-clock time a version can encode, in ms since the Unix epoch: 2^53 / 4096 ms
 * (about 69.7 years) after {@link HLC_EPOCH_MS}, i.e. in 2093. Later times are clamped to it.
 */
export const HLC_MAX_PHYSICAL_MS = HLC_EPOCH_MS + Math.floor(Number.MAX_SAFE_INTEGER / HLC_COUNTER_SPAN)
/** How far ahead of local wall time a remote version may be before `observe` refuses it. */
export const DEFAULT_MAX_DRIFT_MS = 60_000

export interface HlcInit {
  maxDriftMs?: number
}

/**
 * A hybrid logical clock. A version is one safe integer, `(ms - HLC_EPOCH_MS) * 4096 + counter`,
 * so versions compare as numbers and stay close to wall time. Wall times before the epoch count
 * as the epoch. When more than 4096 versions are issued within one millisecond the counter
 * carries into the physical part: versions run slightly ahead of wall time, still strictly
 * increasing.
 */
export interface Hlc {
  /** A version strictly greater than every version this clock issued, observed or advanced to. */
  now: () => number
  /**
   * The HLC receive rule: the next `now()` will be greater than `remote`. Returns false, and
   * leaves the clock as it was, when `remote` is not a positive safe integer or its physical
   * part is more than `maxDriftMs` ahead of local wall time.
   */
  observe: (remote: number) => boolean
  /** Like `observe`, without the drift bound: for versions this host issued itself (e.g. reloaded from its own store). */
  advance: (version: number) => void
  /** The last version issued or observed (0 if none). */
  peek: () => number
}

export function createHlc (clock: Clock, init: HlcInit = {}): Hlc {
  const maxDriftMs = init.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS
  let last = 0

  const advance = (version: number): void => {
    if (Number.isSafeInteger(version) && version > last) last = version
  }

  return {
    now () {
      const candidate = hlcEncode(clock.now(), 0)
      last = candidate > last ? candidate : last + 1
      return last
    },
    observe (remote) {
      if (!Number.isSafeInteger(remote) || remote <= 0) return false
      if (hlcPhysicalMs(remote) > clock.now() + maxDriftMs) return false
      advance(remote)
      return true
    },
    advance,
    peek: () => last
  }
}

/** The version for a wall-clock time (ms since the Unix epoch) and a counter below 4096. */
export function hlcEncode (physicalMs: number, counter: number): number {
  const ms = Math.min(Math.max(Math.floor(physicalMs), HLC_EPOCH_MS), HLC_MAX_PHYSICAL_MS)
  const c = Math.min(Math.max(Math.floor(counter), 0), HLC_COUNTER_SPAN - 1)
  return (ms - HLC_EPOCH_MS) * HLC_COUNTER_SPAN + c
}

/** A version's physical part, as ms since the Unix epoch. */
export function hlcPhysicalMs (version: number): number {
  return HLC_EPOCH_MS + Math.floor(version / HLC_COUNTER_SPAN)
}

/** A version's logical counter. */
export function hlcCounter (version: number): number {
  return version % HLC_COUNTER_SPAN
}
