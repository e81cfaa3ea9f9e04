import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ImageError } from '../../errors/errors.js'

const POLL_MS = 500
/** A kernel build takes 4–12 min on 2 cores; waiting longer than this means something is stuck. */
const DEFAULT_MAX_WAIT_MS = 45 * 60_000

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Options of acquireBuildLock. */
export interface BuildLockInit {
  /** The lock directory (created; holds `pid`). */
  path: string
  maxWaitMs?: number
  /** Called once while waiting, with the owner's pid. */
  onWait?: (ownerPid: number) => void
}

/**
 * A cross-process lock for one expensive build: a directory holding the owner's pid. A second
 * builder waits for the first (and then finds its result); a lock whose owner died is taken
 * over. Returns the release function (idempotent).
 */
export async function acquireBuildLock (init: BuildLockInit): Promise<() => Promise<void>> {
  const deadline = Date.now() + (init.maxWaitMs ?? DEFAULT_MAX_WAIT_MS)
  await mkdir(dirname(init.path), { recursive: true })
  let told = false
  for (;;) {
    try {
      await mkdir(init.path)
      await writeFile(join(init.path, 'pid'), String(process.pid))
      let released = false
      return async () => {
        if (released) return
        released = true
        await rm(init.path, { recursive: true, force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number(await readFile(join(init.path, 'pid'), 'utf8').catch(() => ''))
    if (owner > 0 && !alive(owner)) {
      await rm(init.path, { recursive: true, force: true })
      continue
    }
    if (owner > 0 && !told) {
      told = true
      init.onWait?.(owner)
    }
    if (Date.now() > deadline) throw new ImageError(`lock: ${init.path} stayed taken (pid ${owner}) for ${Math.round((init.maxWaitMs ?? DEFAULT_MAX_WAIT_MS) / 60_000)} min`, { path: init.path })
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}
