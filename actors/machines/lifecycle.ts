import type { MachineAction, MachineConfig, MachineState } from '../../src/api/machines/schemas.js'
import type { ExitInfo } from '../../src/vmm/driver.js'
import { IllegalTransitionError } from '../../src/errors/errors.js'

/** What a user may ask of a machine (API actions plus update and destroy). */
export type UserAction = MachineAction | 'update' | 'destroy' | 'destroy-force'

/** The states each user action may start from. Anything else is an illegal transition. */
const ALLOWED: Record<UserAction, readonly MachineState[]> = {
  start: ['created', 'stopped', 'suspended', 'failed'],
  stop: ['starting', 'started'],
  suspend: ['started'],
  restart: ['started', 'stopped', 'failed'],
  cordon: ['created', 'starting', 'started', 'stopping', 'stopped', 'suspending', 'suspended', 'failed'],
  uncordon: ['created', 'starting', 'started', 'stopping', 'stopped', 'suspending', 'suspended', 'failed'],
  update: ['created', 'started', 'stopped', 'suspended', 'failed'],
  destroy: ['created', 'stopped', 'suspended', 'failed'],
  'destroy-force': ['created', 'starting', 'started', 'stopping', 'stopped', 'suspending', 'suspended', 'failed', 'replacing']
}

/** States in which a VM process may exist. */
export const RUNNING_STATES: readonly MachineState[] = ['starting', 'started', 'stopping', 'suspending', 'replacing']

/** Throws ERR_ILLEGAL_TRANSITION (and changes nothing) unless `action` is allowed from `state`. */
export function assertAllowed (id: string, state: MachineState, action: UserAction): void {
  if (ALLOWED[action].includes(state)) return
  const hint = action === 'destroy' && RUNNING_STATES.includes(state) ? ' (stop it first, or destroy with force)' : ''
  throw new IllegalTransitionError(`machine ${id} cannot ${action.replace('-force', '')} while ${state}${hint}`, { id, state, action })
}

export function isAllowed (state: MachineState, action: UserAction): boolean {
  return ALLOWED[action].includes(state)
}

/** Restart decision after the guest's VM ended without being asked to. */
export interface RestartDecision {
  restart: boolean
  /** The state to settle in when not restarting. */
  settle: 'stopped' | 'failed'
  delayMs: number
}

export interface RestartPolicy {
  policy: 'no' | 'always' | 'on-failure'
  maxRetries: number
}

export const DEFAULT_RESTART: RestartPolicy = { policy: 'on-failure', maxRetries: 10 }
const BACKOFF_INITIAL_MS = 200
const BACKOFF_MAX_MS = 10_000

/**
 * Fly semantics: `no` never restarts; `always` restarts whatever the exit; `on-failure`
 * restarts after a non-zero exit or a crash, up to `maxRetries` consecutive times, then the
 * machine is failed. A clean exit (0) that is not restarted leaves the machine stopped.
 */
export function decideRestart (policy: RestartPolicy, exitCode: number | null, crashed: boolean, restartsSoFar: number): RestartDecision {
  const failure = crashed || exitCode !== 0
  const delayMs = Math.min(BACKOFF_MAX_MS, restartsSoFar === 0 ? 0 : BACKOFF_INITIAL_MS * 2 ** (restartsSoFar - 1))
  switch (policy.policy) {
    case 'no':
      return { restart: false, settle: 'stopped', delayMs: 0 }
    case 'always':
      return { restart: true, settle: 'stopped', delayMs }
    case 'on-failure':
      if (!failure) return { restart: false, settle: 'stopped', delayMs: 0 }
      if (restartsSoFar >= policy.maxRetries) return { restart: false, settle: 'failed', delayMs: 0 }
      return { restart: true, settle: 'failed', delayMs }
  }
}

export function restartPolicyOf (config: MachineConfig): RestartPolicy {
  if (config.restart === undefined) return DEFAULT_RESTART
  return { policy: config.restart.policy, maxRetries: config.restart.max_retries ?? DEFAULT_RESTART.maxRetries }
}

/** How a VM's end reads in the machine's events. */
export function describeExit (exit: ExitInfo): string {
  if (exit.reason === 'crashed') return `VM ended unexpectedly (vmm exit ${exit.vmmExitCode ?? '?'}${exit.signal === null ? '' : `, ${exit.signal}`})`
  return `guest app exited with ${exit.exitCode ?? 'unknown code'}`
}
