import { mkdir, readFile, rmdir, stat } from 'node:fs/promises'
import { ImageError } from '../../errors/errors.js'
import { writeFileAtomically } from './atomic-fs.js'

const LOCK_WAIT_MS = 10_000
const LOCK_STALE_MS = 30_000

/** Image names → digest, as kept in `<imagesDir>/names.json`. */
export type NameTable = Record<string, string>

/** Reads the name table; a missing file is an empty table, an unreadable one an ImageError naming it. */
export async function readNames (file: string): Promise<NameTable> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ImageError(`corrupt image name table ${file}: ${(err as Error).message}`, { path: file })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) ||
    !Object.values(value).every(v => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v))) {
    throw new ImageError(`corrupt image name table ${file}: expected {"name": "<sha256 hex>"}`, { path: file })
  }
  return value as NameTable
}

async function lock (dir: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      await mkdir(dir)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    // A builder that died holding the lock leaves it behind: take it over once it is old.
    const s = await stat(dir).catch(() => undefined)
    if (s !== undefined && Date.now() - s.mtimeMs > LOCK_STALE_MS) await rmdir(dir).catch(() => {})
    if (Date.now() > deadline) throw new ImageError(`image name table is locked (${dir}); remove it if no build is running`, { path: dir })
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Read-modify-write of the name table under a lock dir, so concurrent builders don't lose names. */
export async function updateNames (file: string, change: (names: NameTable) => NameTable): Promise<NameTable> {
  const lockDir = `${file}.lock`
  await lock(lockDir)
  try {
    const next = change(await readNames(file))
    await writeFileAtomically(file, JSON.stringify(next, null, 2) + '\n')
    return next
  } finally {
    await rmdir(lockDir).catch(() => {})
  }
}
