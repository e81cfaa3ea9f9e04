import { rm, stat } from 'node:fs/promises'

/**
 * A suspend writes the guest's memory to `<path>.tmp` and renames it to `path` once the writer
 * has finished, so a file at `path` is always a whole snapshot and a `.tmp` one never is.
 */
export function snapshotTmpPath (path: string): string {
  return `${path}.tmp`
}

/** Removes a snapshot and any partial one still being written (an undone suspend). */
export async function discardSnapshot (path: string): Promise<void> {
  await rm(path, { force: true })
  await rm(snapshotTmpPath(path), { force: true })
}

/** Whether a whole snapshot is at `path`, waiting up to `waitMs` for a writer to rename it into place. */
export async function snapshotComplete (path: string, waitMs = 0, pollMs = 20): Promise<boolean> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      await stat(path)
      return true
    } catch {}
    if (Date.now() >= deadline) return false
    await new Promise(resolve => setTimeout(resolve, pollMs))
  }
}
