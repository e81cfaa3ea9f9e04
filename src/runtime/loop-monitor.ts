import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

/** Sampling period of the event-loop delay histogram (ms); node's minimum, a native timer. */
export const LOOP_MONITOR_RESOLUTION_MS = 1

/** Event-loop delay since the last reset, in ms. */
export interface LoopDelay {
  /** The longest gap between two samples, resolution included. */
  maxMs: number
  p99Ms: number
  meanMs: number
  resolutionMs: number
  /** How long this window has run (0 when the monitor had not been started). */
  sinceMs: number
}

/**
 * How long the event loop was blocked, for the fuzz bench and operators: a histogram that is
 * off until first read, so an agent nobody asks pays nothing.
 */
export interface LoopMonitor {
  /** The window's figures; `reset` starts a new window after reading. */
  read: (reset: boolean) => LoopDelay
  stop: () => void
}

export function createLoopMonitor (): LoopMonitor {
  let histogram: IntervalHistogram | undefined
  let since = 0
  const ms = (ns: number): number => Number.isFinite(ns) ? ns / 1e6 : 0
  return {
    read (reset) {
      const h = histogram
      const figures: LoopDelay = h === undefined || h.count === 0
        ? { maxMs: 0, p99Ms: 0, meanMs: 0, resolutionMs: LOOP_MONITOR_RESOLUTION_MS, sinceMs: h === undefined ? 0 : performance.now() - since }
        : { maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean), resolutionMs: LOOP_MONITOR_RESOLUTION_MS, sinceMs: performance.now() - since }
      if (histogram === undefined) {
        histogram = monitorEventLoopDelay({ resolution: LOOP_MONITOR_RESOLUTION_MS })
        histogram.enable()
        since = performance.now()
      } else if (reset) {
        histogram.reset()
        since = performance.now()
      }
      return figures
    },
    stop () {
      histogram?.disable()
      histogram = undefined
    }
  }
}
