/**
 * What one check of `roost doctor` found. `ok`: as it should be; `warn`: works, but not as well
 * as it could (TCG instead of KVM, streams instead of WireGuard); `fail`: something the agent
 * needs with this configuration is missing; `unknown`: nothing here can tell (never counted as ok).
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'unknown'

/** One line of the doctor's report. */
export interface CheckResult {
  /** Stable id, e.g. `kvm`, `port.api`. */
  readonly id: string
  readonly title: string
  readonly status: CheckStatus
  /** What was found, in words. */
  readonly detail: string
  /** What to do about it; present unless the status is ok. */
  readonly fix?: string
  /** Facts behind the verdict for scripts (`--json`), e.g. the kernel the probe booted. */
  readonly data?: Readonly<Record<string, unknown>>
}

/** The doctor's report: every check, and whether the host can run the agent as configured. */
export interface DoctorReport {
  /** False when any check failed. */
  readonly ok: boolean
  readonly checks: readonly CheckResult[]
}

/** A check of this host: never throws (an unexpected error is reported as the check's unknown). */
export type Check = () => Promise<CheckResult | CheckResult[]>

/** Runs the checks one after the other (the KVM probe boots a VM: nothing else competes with it). */
export async function runChecks (checks: ReadonlyArray<{ id: string, title: string, run: Check }>): Promise<DoctorReport> {
  const results: CheckResult[] = []
  for (const check of checks) {
    try {
      const r = await check.run()
      results.push(...(Array.isArray(r) ? r : [r]))
    } catch (err) {
      results.push({ id: check.id, title: check.title, status: 'unknown', detail: `the check itself failed: ${(err as Error).message}`, fix: 'report this as a bug of roost doctor' })
    }
  }
  return { ok: results.every(r => r.status !== 'fail'), checks: results }
}
