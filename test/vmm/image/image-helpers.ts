import { execFileSync } from 'node:child_process'
import type { ExecutionContext } from 'ava'

/**
 * For tests whose first image build may compile the minimal kernel (once per machine: ~4 min on
 * 2 idle cores, ~12 under load): raises ava's 5 min timeout for that test.
 */
export const KERNEL_BUILD_TIMEOUT_MS = 30 * 60_000

/** Whether a host tool is on PATH. */
export function hasCommand (cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v '${cmd}'`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** What a real image build and boot need on this host, and what is missing. */
export function missingForBoot (): string[] {
  return ['apt-get', 'apt-cache', 'dpkg-deb', 'qemu-system-x86_64'].filter(c => !hasCommand(c))
}

/** Skips (logged) when something is missing, except in CI, where that fails the test. */
export function requireTools (t: ExecutionContext, missing: string[]): boolean {
  if (missing.length === 0) return true
  if (process.env.CI === 'true') {
    t.fail(`missing in CI: ${missing.join(', ')}`)
    return false
  }
  t.log(`skipped: ${missing.join(', ')} not installed`)
  t.pass()
  return false
}
