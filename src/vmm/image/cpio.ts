import { gzipSync } from 'node:zlib'

/** One entry of a newc cpio archive. `mode` carries the file type bits (0o100000 file, 0o040000 dir, 0o120000 symlink). */
export interface CpioEntry {
  path: string
  mode: number
  /** File contents, or the symlink target. Directories: empty. */
  data?: Buffer
  mtime?: number
}

export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000

const TRAILER = 'TRAILER!!!'

function hex8 (n: number): string {
  return n.toString(16).padStart(8, '0')
}

function pad4 (n: number): number {
  return (4 - (n % 4)) % 4
}

function header (ino: number, e: CpioEntry, size: number, nameSize: number): string {
  const nlink = (e.mode & 0o170000) === S_IFDIR ? 2 : 1
  return '070701' + [ino, e.mode, 0, 0, nlink, e.mtime ?? 0, size, 0, 0, 0, 0, nameSize, 0].map(hex8).join('')
}

/**
 * Writes an uncompressed newc ("070701") cpio archive, the format the Linux initramfs
 * unpacker reads. Paths are stored without a leading slash; parents must come before children.
 */
export function createCpio (entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  const push = (e: CpioEntry, name: string): void => {
    const data = e.data ?? Buffer.alloc(0)
    const nameBuf = Buffer.from(name + '\0')
    const head = Buffer.from(header(ino++, e, data.length, nameBuf.length))
    parts.push(head, nameBuf, Buffer.alloc(pad4(head.length + nameBuf.length)), data, Buffer.alloc(pad4(data.length)))
  }
  for (const e of entries) push(e, e.path.replace(/^\/+/, ''))
  push({ path: TRAILER, mode: 0 }, TRAILER)
  return Buffer.concat(parts)
}

/** A gzip'd newc cpio: what may be appended to an initramfs (an uncompressed appended cpio is ignored). */
export function createCpioGz (entries: CpioEntry[]): Buffer {
  return gzipSync(createCpio(entries), { level: 6 })
}

/** `export NAME='value'` lines for /etc/roost/env (names must be shell identifiers). */
export function shellEnvFile (env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, "'\\''")}'`)
    .join('\n') + '\n'
}
