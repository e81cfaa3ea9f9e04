import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** A fresh, unique path next to `target` (same filesystem, so a rename into place is atomic). */
export function tempSibling (target: string): string {
  return join(dirname(target), `.tmp-${basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`)
}

/**
 * Builds a directory in a temporary sibling and renames it to `target`. Concurrent builders
 * (two processes, the same key) are tolerated: whoever renames first wins, the others discard
 * their copy and use the winner's. Returns whether this call installed it.
 */
export async function installDirAtomically (target: string, fill: (tmpDir: string) => Promise<void>): Promise<'installed' | 'existing'> {
  await mkdir(dirname(target), { recursive: true })
  const tmp = tempSibling(target)
  await mkdir(tmp)
  try {
    await fill(tmp)
    try {
      await rename(tmp, target)
      return 'installed'
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'existing'
      throw err
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

/** Runs `fn` with a fresh scratch directory under `parent`, removed afterwards whatever happens. */
export async function withScratchDir<T> (parent: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(parent, { recursive: true })
  const dir = tempSibling(join(parent, 'scratch'))
  await mkdir(dir)
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Writes a file through a temporary sibling and a rename: readers see the old or the new bytes, never half. */
export async function writeFileAtomically (target: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(target), { recursive: true })
  const tmp = tempSibling(target)
  try {
    await writeFile(tmp, data, { mode })
    await rename(tmp, target)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
