import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { ImageError } from '../../errors/errors.js'

/**
 * Modules the guest loads (their dependencies are added): virtio-mmio transport (microvm's
 * devices), the virtio NIC, and evdev + the ACPI button so `system_powerdown` reaches acpid.
 */
export const GUEST_MODULES: readonly string[] = ['virtio_mmio', 'virtio_net', 'evdev', 'button']

/** A kernel module ready for the initramfs: uncompressed, so busybox insmod can load it. */
export interface GuestModule {
  name: string
  data: Buffer
}

const MODULE_RE = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/

function moduleName (file: string): string | undefined {
  const m = MODULE_RE.exec(file)
  return m?.[1]?.replace(/-/g, '_')
}

/** Maps module name (dashes as underscores) → file, for every module under `root` (lib/modules/<version>). */
export async function findModuleFiles (root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        await walk(join(dir, e.name))
        continue
      }
      const name = e.isFile() ? moduleName(e.name) : undefined
      if (name !== undefined && !found.has(name)) found.set(name, join(dir, e.name))
    }
  }
  await walk(root)
  return found
}

async function decompress (tool: string, file: string): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    execFile(tool, ['-dc', file], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err !== null) reject(new ImageError(`extract: '${tool} -dc ${file}' failed: ${err.message}`))
      else resolve(stdout)
    })
  })
}

/** A module file's bytes, decompressed on the host (.xz with the xz CLI, .zst with zstd). */
export async function readModuleFile (file: string): Promise<Buffer> {
  if (file.endsWith('.xz')) return await decompress('xz', file)
  if (file.endsWith('.zst')) return await decompress('zstd', file)
  if (file.endsWith('.gz')) return gunzipSync(await readFile(file))
  return await readFile(file)
}

/** The `depends=` entry of a module's .modinfo section (NUL-separated key=value strings). */
export function modinfoDepends (ko: Buffer): string[] {
  const key = Buffer.from('\0depends=')
  const at = ko.indexOf(key)
  if (at < 0) return []
  const start = at + key.length
  const end = ko.indexOf(0, start)
  const value = ko.subarray(start, end < 0 ? undefined : end).toString('latin1')
  return value.split(',').map(s => s.trim().replace(/-/g, '_')).filter(s => s.length > 0)
}

/** Names listed in modules.builtin: compiled into the kernel, nothing to load. */
async function builtinModules (modulesRoot: string): Promise<Set<string>> {
  try {
    const text = await readFile(join(modulesRoot, 'modules.builtin'), 'utf8')
    return new Set(text.split('\n').map(l => moduleName(l.split('/').pop() ?? '')).filter((n): n is string => n !== undefined))
  } catch {
    return new Set()
  }
}

/**
 * The modules `roots` need, dependencies first, read from an extracted kernel package. Debian's
 * .deb ships no modules.dep (depmod runs at install time), so dependencies come from each
 * module's own modinfo.
 */
export async function collectGuestModules (modulesRoot: string, roots: readonly string[] = GUEST_MODULES): Promise<GuestModule[]> {
  const files = await findModuleFiles(modulesRoot)
  const builtin = await builtinModules(modulesRoot)
  const ordered: GuestModule[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = async (name: string, chain: string[]): Promise<void> => {
    const s = state.get(name)
    if (s === 'done' || builtin.has(name)) return
    if (s === 'visiting') throw new ImageError(`extract: kernel module dependency cycle: ${[...chain, name].join(' → ')}`)
    const file = files.get(name)
    if (file === undefined) {
      throw new ImageError(`extract: kernel module '${name}' not found under ${modulesRoot}${chain.length > 0 ? ` (needed by ${chain.join(' → ')})` : ''}`)
    }
    state.set(name, 'visiting')
    const data = await readModuleFile(file)
    for (const dep of modinfoDepends(data)) await visit(dep, [...chain, name])
    state.set(name, 'done')
    ordered.push({ name, data })
  }
  for (const root of roots) await visit(root.replace(/-/g, '_'), [])
  return ordered
}
