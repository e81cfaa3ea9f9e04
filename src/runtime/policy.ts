import type { Clock } from './clock.js'

/** Exponential backoff between restarts. */
export interface Backoff {
  initialMs: number
  maxMs: number
  factor: number
}

/**
 * What a supervisor does when an actor throws. Every spawn states one; there is no default.
 * - `restart`: rebuild the actor's state after a backoff; past `maxRestarts` within `withinMs`
 *   the actor is stopped or the failure escalated, per `onExhausted`.
 * - `resume`: keep the state and go on with the next message.
 * - `stop`: stop the actor and its children.
 * - `escalate`: fail the parent, whose own policy then decides for both.
 */
export type CrashPolicy =
  | { kind: 'restart', backoff?: Partial<Backoff>, maxRestarts?: number, withinMs?: number, onExhausted?: 'stop' | 'escalate' }
  | { kind: 'resume' }
  | { kind: 'stop' }
  | { kind: 'escalate' }

export type CrashDecision =
  | { action: 'restart', delayMs: number }
  | { action: 'resume' }
  | { action: 'stop' }
  | { action: 'escalate' }

export const DEFAULT_BACKOFF: Backoff = { initialMs: 10, maxMs: 5_000, factor: 2 }
export const DEFAULT_MAX_RESTARTS = 10
export const DEFAULT_RESTART_WINDOW_MS = 60_000

/** Shorthands for the common policies. */
export const policies = {
  restart: (opts: Omit<Extract<CrashPolicy, { kind: 'restart' }>, 'kind'> = {}): CrashPolicy => ({ kind: 'restart', ...opts }),
  resume: (): CrashPolicy => ({ kind: 'resume' }),
  stop: (): CrashPolicy => ({ kind: 'stop' }),
  escalate: (): CrashPolicy => ({ kind: 'escalate' })
}

/**
 * Keeps one actor's crash history and turns its policy into a decision per crash. Restarts
 * older than the window are forgotten, so an actor that crashes rarely never runs out.
 */
export function createSupervisor (policy: CrashPolicy, clock: Clock): { decide: () => CrashDecision, restarts: () => number } {
  const history: number[] = []
  return {
    restarts: () => history.length,
    decide () {
      switch (policy.kind) {
        case 'resume': return { action: 'resume' }
        case 'stop': return { action: 'stop' }
        case 'escalate': return { action: 'escalate' }
        case 'restart': {
          const now = clock.now()
          const within = policy.withinMs ?? DEFAULT_RESTART_WINDOW_MS
          while (history.length > 0 && now - (history[0] as number) > within) history.shift()
          const max = policy.maxRestarts ?? DEFAULT_MAX_RESTARTS
          if (history.length >= max) return { action: policy.onExhausted ?? 'stop' }
          const b = { ...DEFAULT_BACKOFF, ...policy.backoff }
          const delayMs = Math.min(b.maxMs, b.initialMs * Math.pow(b.factor, history.length))
          history.push(now)
          return { action: 'restart', delayMs }
        }
        default: {
          const never: never = policy
          throw new TypeError(`unknown crash policy ${JSON.stringify(never)}`)
        }
      }
    }
  }
}
