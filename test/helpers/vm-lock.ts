import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Requirements } from './requirements.js'

const LOCK = join(tmpdir(), 'roost-test-vms.lock')
const POLL_MS = 200
const MAX_WAIT_MS = 15 * 60_000

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/**
 * Takes the lock directory `lock` (in the temp dir): one holder at a time across ava's worker
 * processes. The directory holds the owner's pid; a lock whose owner is gone is taken over.
 * Returns the release function.
 */
export async function acquireFileLock (lock: string, maxWaitMs = MAX_WAIT_MS): Promise<() => Promise<void>> {
  const deadline = Date.now() + maxWaitMs
  for (;;) {
    try {
      await mkdir(lock)
      await writeFile(join(lock, 'pid'), String(process.pid))
      let released = false
      return async () => {
        if (released) return
        released = true
        await rm(lock, { recursive: true, force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''))
    if (owner > 0 && !alive(owner)) await rm(lock, { recursive: true, force: true })
    if (Date.now() > deadline) throw new Error(`the test lock ${lock} stayed taken for ${maxWaitMs / 60_000} min`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/**
 * One VM-booting test file at a time across ava's worker processes: TCG boots are CPU-bound, and
 * two files booting at once on 2 cores make every boot several times slower.
 */
export async function acquireVmLock (): Promise<() => Promise<void>> {
  return await acquireFileLock(LOCK)
}

/** The VM lock, held (release it when the file's VMs are gone), or why this file boots no VM. */
export type VmLock = { held: true, release: () => Promise<void> } | { held: false, reason: string }

/**
 * Takes the VM lock where the file's {@link Requirements} are all present (its VM tests run),
 * and not otherwise (they skip, or fail under CI, without booting anything).
 */
export async function vmLockFor (req: Requirements): Promise<VmLock> {
  if (!req.ok) return { held: false, reason: req.missing.join('; ') }
  return { held: true, release: await acquireVmLock() }
}

/** Releases a lock {@link vmLockFor} took (nothing when it took none, or none was asked for yet). */
export async function releaseVmLock (lock: VmLock | undefined): Promise<void> {
  if (lock?.held === true) await lock.release()
}
