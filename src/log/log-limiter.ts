/** What a limiter needs of time. */
export interface LogLimiterClock { now: () => number }

export interface LogLimiterInit {
  /** Lines written per key per window before the rest are counted instead (default 5). */
  burst?: number
  /** Length of a window in ms (default 10 s). */
  windowMs?: number
  /** Keys remembered at once; past it the oldest are forgotten (default 1,024). */
  maxKeys?: number
}

/**
 * Bounds how many lines one kind of bad input writes: a peer that floods an agent with bad rows
 * or frames must not turn into a log flood (each line is a synchronous write on the actors' event
 * loop). Per key (site, peer, error code) the first `burst` lines of a window are written; the
 * rest are counted, and the next written line for the key carries `suppressed: n`.
 */
export interface LogLimiter {
  /** The number of lines suppressed for `key` since its last written line, or `false` when this line is to be suppressed. */
  take: (key: string) => number | false
  /** Keys currently remembered (for tests and stats). */
  size: () => number
}

interface Slot { windowStart: number, written: number, suppressed: number }

export function createLogLimiter (init: LogLimiterInit = {}, components: { clock?: LogLimiterClock } = {}): LogLimiter {
  const burst = init.burst ?? 5
  const windowMs = init.windowMs ?? 10_000
  const maxKeys = init.maxKeys ?? 1024
  const now = components.clock?.now ?? Date.now
  const slots = new Map<string, Slot>()

  return {
    take (key) {
      const t = now()
      let slot = slots.get(key)
      if (slot === undefined) {
        if (slots.size >= maxKeys) {
          const oldest = slots.keys().next()
          if (oldest.done !== true) slots.delete(oldest.value)
        }
        slot = { windowStart: t, written: 0, suppressed: 0 }
        slots.set(key, slot)
      } else if (t - slot.windowStart >= windowMs) {
        slot.windowStart = t
        slot.written = 0
      }
      if (slot.written >= burst) {
        slot.suppressed++
        return false
      }
      slot.written++
      const suppressed = slot.suppressed
      slot.suppressed = 0
      return suppressed
    },
    size: () => slots.size
  }
}

/** The fields a written line adds: `suppressed` only when some were. */
export function suppressedField (n: number): { suppressed?: number } {
  return n > 0 ? { suppressed: n } : {}
}
