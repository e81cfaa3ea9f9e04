import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import { writeFileAtomically } from './atomic-fs.js'
import { createCpio, createCpioGz, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.js'
import type { GuestParts } from './debian-packages.js'
import { GUEST_FSTAB, POWER_HANDLER_PATH, POWER_HANDLER_SCRIPT, renderInitScript } from './guest-init.js'
import { runHostCommandOk } from './host-command.js'

/** Bump when the layout of the base initramfs changes, so cached ones are rebuilt. */
const BASE_FORMAT = 1

const DIRS: Array<[string, number]> = [
  ['app', 0o755], ['bin', 0o755], ['dev', 0o755], ['etc', 0o755], ['etc/acpi', 0o755], ['etc/acpi/PWRF', 0o755],
  ['etc/roost', 0o755], ['lib', 0o755], ['lib/modules', 0o755], ['proc', 0o555], ['root', 0o700], ['run', 0o755],
  ['sbin', 0o755], ['sys', 0o555], ['tmp', 0o1777], ['usr', 0o755], ['usr/bin', 0o755], ['usr/sbin', 0o755], ['var', 0o755]
]

const ETC_FILES: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
  'etc/group': 'root:x:0:\n',
  'etc/hosts': '127.0.0.1 localhost\n::1 localhost\n',
  'etc/fstab': GUEST_FSTAB
}

/** Options of buildBaseInitramfs. */
export interface BaseInitramfsInit {
  cacheDir: string
  /**
   * gzip the cpio (default true). The minimal kernel takes it plain: gunzip under TCG costs more
   * than reading the extra ~1 MB. Layers appended after a plain cpio must be compressed.
   */
  compress?: boolean
}

/** A base initramfs in the cache. */
export interface BaseInitramfs {
  path: string
  /** Cache key: kernel + busybox versions, modules, init scripts. */
  key: string
  sizeBytes: number
  /** Whether it was already in the cache. */
  cached: boolean
}

/** The cache key of the base initramfs for these parts (changes when any input of it does). */
export function baseInitramfsKey (parts: GuestParts, compress = true): string {
  const h = createHash('sha256')
  h.update(JSON.stringify({
    format: BASE_FORMAT,
    compress,
    kernel: `${parts.kernelPackage}=${parts.kernelPackageVersion}`,
    modules: parts.modules.map(m => m.name),
    busybox: parts.busyboxVersion,
    init: renderInitScript(parts.modules.map(m => m.name)),
    handler: POWER_HANDLER_SCRIPT,
    dirs: DIRS,
    etc: ETC_FILES
  }))
  return h.digest('hex')
}

/** Applet paths (`usr/bin/httpd`, …) the busybox binary provides, from `busybox --list-full`. */
async function appletPaths (busybox: string): Promise<string[]> {
  const out = await runHostCommandOk(busybox, ['--list-full'], { step: 'build base initramfs' })
  const paths = out.split('\n').map(l => l.trim().replace(/^\/+/, '')).filter(l => /^(usr\/)?s?bin\/[^/]+$/.test(l))
  if (!paths.includes('bin/sh')) throw new ImageError(`build base initramfs: ${busybox} --list-full has no bin/sh applet`)
  return paths.filter(p => p !== 'bin/busybox')
}

/** Every entry of the base initramfs, parents before children. */
export async function baseInitramfsEntries (parts: GuestParts): Promise<CpioEntry[]> {
  const entries = new Map<string, CpioEntry>()
  for (const [path, perm] of DIRS) entries.set(path, { path, mode: S_IFDIR | perm })
  entries.set('var/run', { path: 'var/run', mode: S_IFLNK | 0o777, data: Buffer.from('../run') })
  entries.set('bin/busybox', { path: 'bin/busybox', mode: S_IFREG | 0o755, data: await readFile(parts.busybox) })
  for (const applet of await appletPaths(parts.busybox)) {
    entries.set(applet, { path: applet, mode: S_IFLNK | 0o777, data: Buffer.from('/bin/busybox') })
  }
  for (const [path, text] of Object.entries(ETC_FILES)) entries.set(path, { path, mode: S_IFREG | 0o644, data: Buffer.from(text) })
  for (const m of parts.modules) {
    const path = `lib/modules/${m.name}.ko`
    entries.set(path, { path, mode: S_IFREG | 0o644, data: await readFile(m.path) })
  }
  entries.set('init', { path: 'init', mode: S_IFREG | 0o755, data: Buffer.from(renderInitScript(parts.modules.map(m => m.name))) })
  entries.set(POWER_HANDLER_PATH, { path: POWER_HANDLER_PATH, mode: S_IFREG | 0o755, data: Buffer.from(POWER_HANDLER_SCRIPT) })
  // Sorted paths put every directory before what it holds (a parent is a prefix of its children).
  return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/**
 * The base initramfs (newc cpio, gzip'd unless `compress` is false: busybox + applet links, the
 * modules, /init and the power-button handler), built once per key into
 * `<cacheDir>/base/<key>.cpio[.gz]`.
 */
export async function buildBaseInitramfs (parts: GuestParts, init: BaseInitramfsInit): Promise<BaseInitramfs> {
  const compress = init.compress ?? true
  const key = baseInitramfsKey(parts, compress)
  const path = join(init.cacheDir, 'base', `${key}.cpio${compress ? '.gz' : ''}`)
  try {
    const s = await stat(path)
    return { path, key, sizeBytes: s.size, cached: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const entries = await baseInitramfsEntries(parts)
  const data = compress ? createCpioGz(entries) : createCpio(entries)
  await writeFileAtomically(path, data)
  return { path, key, sizeBytes: data.length, cached: false }
}
