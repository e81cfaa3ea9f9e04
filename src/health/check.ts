/** The state of one health check. `warning`: no verdict yet (still within its grace period). */
export type HealthStatus = 'passing' | 'warning' | 'critical'

/** What one run of a check found. */
export interface CheckResult {
  status: 'passing' | 'critical'
  /** For people: e.g. `HTTP 200 after 3 ms`, `connect ECONNREFUSED 127.0.0.1:4321`. */
  output: string
}

/** A TCP check passes when a connection is accepted within the timeout. */
export interface TcpCheckSpec {
  type: 'tcp'
  host: string
  port: number
}

/** An HTTP check passes on a 2xx or 3xx status within the timeout. */
export interface HttpCheckSpec {
  type: 'http'
  host: string
  port: number
  /** Request path; `/` unless given. */
  path?: string
  /** `GET` unless given. */
  method?: 'GET' | 'HEAD'
}

/** One check and its schedule (see {@link createHealthChecker}). */
export type HealthCheckSpec = (TcpCheckSpec | HttpCheckSpec) & {
  intervalMs: number
  timeoutMs: number
  gracePeriodMs: number
}

/** Runs one check once; never rejects. */
export type CheckProbe = (spec: HealthCheckSpec) => Promise<CheckResult>

/** `err.message`, or what was thrown as a string. */
export function errorOutput (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Whole ms since `started` (a `performance.now()` reading). */
export function elapsedMs (started: number): number {
  return Math.round(performance.now() - started)
}
