import type { Clock } from '../runtime/clock.js'

export interface SuspicionInit {
  /** Who raised the suspicion first. */
  by: string
  minMs: number
  maxMs: number
  /** Independent confirmations after which the timeout is at its floor. */
  confirmations: number
}

/** One member's suspicion timer (Lifeguard's "LHA-suspicion"). */
export interface Suspicion {
  /** Records an independent confirmation; true when it was new (worth re-gossiping). */
  confirm: (by: string) => boolean
  cancel: () => void
  confirmations: () => number
  /** The timeout currently in force, ms from the start of the suspicion. */
  timeoutMs: () => number
}

/**
 * Starts at `maxMs` and shrinks logarithmically toward `minMs` as other members independently
 * suspect the same member: a real failure is confirmed by many and declared quickly, while a
 * lone slow or lossy prober leaves the suspect plenty of time to refute.
 */
export function createSuspicion (init: SuspicionInit, components: { clock: Clock, onTimeout: () => void }): Suspicion {
  const { clock } = components
  const started = clock.now()
  const confirmers = new Set<string>([init.by])
  let timer: unknown
  let done = false

  const timeoutFor = (c: number): number => {
    if (init.confirmations <= 0 || init.maxMs <= init.minMs) return init.minMs
    const frac = Math.log(c + 1) / Math.log(init.confirmations + 1)
    return Math.max(init.minMs, init.maxMs - (init.maxMs - init.minMs) * frac)
  }
  let current = timeoutFor(0)

  const arm = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer)
    const remaining = Math.max(0, started + current - clock.now())
    timer = clock.setTimeout(() => {
      if (done) return
      done = true
      components.onTimeout()
    }, remaining)
  }
  arm()

  return {
    confirm (by) {
      if (done || confirmers.has(by)) return false
      confirmers.add(by)
      const next = timeoutFor(confirmers.size - 1)
      if (next < current) {
        current = next
        arm()
      }
      return true
    },
    cancel () {
      done = true
      if (timer !== undefined) clock.clearTimeout(timer)
    },
    confirmations: () => confirmers.size - 1,
    timeoutMs: () => current
  }
}
