import { InvalidArgumentError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { systemClock, type Clock } from '../runtime/clock.js'
import { errorOutput, type CheckProbe, type CheckResult, type HealthCheckSpec, type HealthStatus } from './check.js'
import { runCheck } from './run-check.js'

/** Called after every run of a check that counts (see {@link createHealthChecker}). */
export type HealthResultListener = (name: string, result: CheckResult, consecutiveFailures: number) => void

/** What the checker knows about one check. */
export interface CheckState {
  status: HealthStatus
  output: string
  /** Failures in a row since the grace period ended (0 after a pass). */
  consecutiveFailures: number
  /** Clock time of the last result, null before the first. */
  lastCheckedAt: number | null
}

export interface HealthCheckerInit {
  /** By name. */
  checks: Record<string, HealthCheckSpec>
  onResult?: HealthResultListener
}

export interface HealthCheckerComponents {
  logger: Logger
  /** Schedules runs and measures grace; the system clock unless given. */
  clock?: Clock
  onResult?: HealthResultListener
  /** Runs one check; {@link runCheck} (real TCP/HTTP) unless given. */
  probe?: CheckProbe
}

/** Runs a set of checks on their intervals. `start`/`stop` are idempotent; it may be started again after a stop. */
export interface HealthChecker {
  start: () => void
  stop: () => void
  /** A snapshot of every check's state, by name. */
  statuses: () => Record<string, CheckState>
}

interface Entry {
  spec: HealthCheckSpec
  state: CheckState
  timer: unknown
  /** True until the first pass or until the grace period is over. */
  inGrace: boolean
  /** The wait before the next run while the check has not passed yet in its grace period. */
  startupDelayMs: number
}

/** While a starting machine's check has not passed yet, it is run again after 50, 100, 200 … ms (never later than its interval). */
export const STARTUP_RETRY_MS = 50

const NOT_CHECKED = 'not checked yet'

/**
 * Each check runs at start and then every `intervalMs` (start to start; runs never overlap);
 * until its first pass within the grace period it is run again sooner, after
 * {@link STARTUP_RETRY_MS} doubling each time, so a machine takes traffic as soon as its app
 * answers rather than up to an interval later (Kubernetes' startup probe does the same). The grace period, counted from `start()`, ends at `gracePeriodMs` or at the check's first
 * pass, whichever comes first. Within it a check is `warning` until it passes, and failures are
 * neither counted nor reported to `onResult`; after it every result is reported, and failures
 * make the check `critical` and count in `consecutiveFailures`.
 */
export function createHealthChecker (init: HealthCheckerInit, components: HealthCheckerComponents): HealthChecker {
  const clock = components.clock ?? systemClock
  const probe = components.probe ?? runCheck
  const listeners = [init.onResult, components.onResult].filter((l): l is HealthResultListener => l !== undefined)
  const entries = new Map<string, Entry>()
  for (const [name, spec] of Object.entries(init.checks)) {
    validate(name, spec)
    entries.set(name, { spec, state: initialState(), timer: undefined, inGrace: true, startupDelayMs: STARTUP_RETRY_MS })
  }
  let running = false
  let generation = 0
  let startedAt = 0

  function emit (name: string, result: CheckResult, failures: number): void {
    for (const l of listeners) {
      try {
        l(name, result, failures)
      } catch (err) {
        components.logger.error({ err, check: name }, 'health result listener threw')
      }
    }
  }

  function schedule (name: string, entry: Entry, delayMs: number, gen: number): void {
    entry.timer = clock.setTimeout(() => {
      entry.timer = undefined
      void runOnce(name, entry, gen)
    }, delayMs)
  }

  async function runOnce (name: string, entry: Entry, gen: number): Promise<void> {
    const begun = clock.now()
    let result: CheckResult
    try {
      result = await probe(entry.spec)
    } catch (err) {
      result = { status: 'critical', output: errorOutput(err) }
    }
    if (gen !== generation) return
    const now = clock.now()
    if (entry.inGrace && (result.status === 'passing' || now - startedAt >= entry.spec.gracePeriodMs)) entry.inGrace = false
    const state = entry.state
    state.lastCheckedAt = now
    state.output = result.output
    if (result.status === 'passing') {
      state.status = 'passing'
      state.consecutiveFailures = 0
      emit(name, result, 0)
    } else if (!entry.inGrace) {
      state.status = 'critical'
      state.consecutiveFailures++
      emit(name, result, state.consecutiveFailures)
    }
    let wait = entry.spec.intervalMs
    if (entry.inGrace) {
      wait = Math.min(wait, entry.startupDelayMs)
      entry.startupDelayMs *= 2
    }
    schedule(name, entry, Math.max(0, wait - (now - begun)), gen)
  }

  return {
    start () {
      if (running) return
      running = true
      generation++
      startedAt = clock.now()
      for (const [name, entry] of entries) {
        entry.state = initialState()
        entry.inGrace = true
        entry.startupDelayMs = STARTUP_RETRY_MS
        schedule(name, entry, 0, generation)
      }
    },
    stop () {
      if (!running) return
      running = false
      generation++
      for (const entry of entries.values()) {
        if (entry.timer !== undefined) clock.clearTimeout(entry.timer)
        entry.timer = undefined
      }
    },
    statuses () {
      const out: Record<string, CheckState> = {}
      for (const [name, entry] of entries) out[name] = { ...entry.state }
      return out
    }
  }
}

function initialState (): CheckState {
  return { status: 'warning', output: NOT_CHECKED, consecutiveFailures: 0, lastCheckedAt: null }
}

function validate (name: string, spec: HealthCheckSpec): void {
  const bad = (why: string): never => { throw new InvalidArgumentError(`health check ${JSON.stringify(name)}: ${why}`, { check: name }) }
  if (spec.type !== 'tcp' && spec.type !== 'http') bad(`unknown type ${JSON.stringify((spec as { type: unknown }).type)}`)
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) bad(`port must be 1..65535, got ${spec.port}`)
  if (typeof spec.host !== 'string' || spec.host === '') bad('host is empty')
  if (!Number.isFinite(spec.intervalMs) || spec.intervalMs <= 0) bad('intervalMs must be > 0')
  if (!Number.isFinite(spec.timeoutMs) || spec.timeoutMs <= 0) bad('timeoutMs must be > 0')
  if (!Number.isFinite(spec.gracePeriodMs) || spec.gracePeriodMs < 0) bad('gracePeriodMs must be ≥ 0')
  if (spec.type === 'http' && spec.path !== undefined && !spec.path.startsWith('/')) bad('path must start with /')
}
