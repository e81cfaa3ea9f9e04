import { createHash } from 'node:crypto'
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import type { Logger } from '../../log/logger.js'
import { aptDownload, aptShow, aptUpdate } from './apt.js'
import { installDirAtomically, withScratchDir } from './atomic-fs.js'
import { runHostCommandOk } from './host-command.js'
import { collectGuestModules, GUEST_MODULES } from './kernel-modules.js'
import { readJson, resolveGuestPackages } from './package-resolution.js'

export const DEFAULT_KERNEL_PACKAGE = 'linux-image-cloud-amd64'
export const DEFAULT_BUSYBOX_PACKAGE = 'busybox-static'
export const DEFAULT_APT_LISTS_DIR = '/var/lib/apt/lists'

/** Where downloaded packages and built base initramfs live: `ROOST_CACHE_DIR`, else ~/.cache/roost. */
export function defaultCacheDir (): string {
  return process.env.ROOST_CACHE_DIR ?? join(homedir(), '.cache', 'roost')
}

/** Steps reported while obtaining the guest's kernel and busybox. */
export type PartsStep = 'resolve' | 'download-kernel' | 'download-busybox' | 'extract'

/** A progress report; `done`/`total` are bytes where known. */
export interface PartsProgress {
  step: PartsStep
  detail: string
  done?: number
  total?: number
}

/** The pieces of a guest taken from Debian packages, as files in the cache. */
export interface GuestParts {
  kernelPackage: string
  kernelPackageVersion: string
  /** `uname -r` of the guest kernel, e.g. 6.1.0-56-cloud-amd64. */
  kernelVersion: string
  /** The bzImage. */
  vmlinuz: string
  /** Uncompressed modules in load order. */
  modules: Array<{ name: string, path: string }>
  busyboxVersion: string
  /** The static busybox binary. */
  busybox: string
}

export interface DebianPackagesInit {
  /** Defaults to defaultCacheDir(). */
  cacheDir?: string
  kernelPackage?: string
  busyboxPackage?: string
  modules?: readonly string[]
  aptListsDir?: string
  onProgress?: (p: PartsProgress) => void
}

interface KernelEntry { kernelVersion: string, modules: string[] }

function safeName (s: string): string {
  return s.replace(/[^A-Za-z0-9._+-]/g, '_')
}

/**
 * Obtains Debian's cloud kernel (bzImage + the modules the guest loads) and a static busybox,
 * without installing anything: `apt-get download` + `dpkg-deb -x` into the cache, keyed by
 * package version. A warm cache with unchanged apt lists runs no apt tool at all.
 */
export async function obtainGuestParts (init: DebianPackagesInit, components: { logger: Logger }): Promise<GuestParts> {
  const log = components.logger
  const cacheDir = init.cacheDir ?? defaultCacheDir()
  const kernelMeta = init.kernelPackage ?? DEFAULT_KERNEL_PACKAGE
  const busyboxPackage = init.busyboxPackage ?? DEFAULT_BUSYBOX_PACKAGE
  const roots = init.modules ?? GUEST_MODULES
  const progress = init.onProgress ?? (() => {})
  const listsDir = init.aptListsDir ?? DEFAULT_APT_LISTS_DIR
  let updated = false
  const updateOnce = async (why: string): Promise<boolean> => {
    if (updated) return false
    updated = true
    log.info({ why }, 'running apt-get update')
    progress({ step: 'resolve', detail: `apt-get update (${why})` })
    await aptUpdate()
    return true
  }

  progress({ step: 'resolve', detail: `${kernelMeta}, ${busyboxPackage}` })
  const resolved = await resolveGuestPackages({ cacheDir, kernelMeta, busyboxPackage, aptListsDir: listsDir }, { logger: log, updateOnce })
  log.debug({ kernel: `${resolved.kernelPackage} ${resolved.kernelPackageVersion}`, busybox: resolved.busyboxVersion }, 'packages resolved')

  const modulesKey = createHash('sha256').update(roots.join(',')).digest('hex').slice(0, 8)
  const kernelDir = join(cacheDir, 'kernel', `${safeName(resolved.kernelPackage)}_${safeName(resolved.kernelPackageVersion)}_${modulesKey}`)
  const busyboxDir = join(cacheDir, 'busybox', safeName(resolved.busyboxVersion))
  let kernelEntry = await readJson<KernelEntry>(join(kernelDir, 'kernel.json'))
  const haveBusybox = (await readJson<{ version: string }>(join(busyboxDir, 'busybox.json'))) !== undefined

  const download = async (step: DownloadStep, pkg: string, version: string, size: number | undefined, dir: string): Promise<string> =>
    await downloadDeb({ step, pkg, version, size, dir }, { progress, updateOnce })

  if (kernelEntry !== undefined) progress({ step: 'download-kernel', detail: `${resolved.kernelPackage} ${resolved.kernelPackageVersion} (cached)` })
  if (haveBusybox) progress({ step: 'download-busybox', detail: `${busyboxPackage} ${resolved.busyboxVersion} (cached)` })
  if (kernelEntry === undefined || !haveBusybox) {
    await withScratchDir(cacheDir, async (work) => {
      const kernelDeb = kernelEntry === undefined
        ? await download('download-kernel', resolved.kernelPackage, resolved.kernelPackageVersion, resolved.kernelSize, work)
        : undefined
      const busyboxDeb = haveBusybox ? undefined : await download('download-busybox', busyboxPackage, resolved.busyboxVersion, resolved.busyboxSize, work)
      if (kernelDeb !== undefined) {
        progress({ step: 'extract', detail: `${resolved.kernelPackage} (vmlinuz, ${roots.join(', ')})` })
        await installDirAtomically(kernelDir, async (dir) => { await extractKernel(kernelDeb, join(work, 'kernel-tree'), dir, roots) })
      }
      if (busyboxDeb !== undefined) {
        progress({ step: 'extract', detail: `${busyboxPackage} (busybox)` })
        await installDirAtomically(busyboxDir, async (dir) => { await extractBusybox(busyboxDeb, join(work, 'busybox-tree'), dir, resolved.busyboxVersion) })
      }
    })
    kernelEntry = await readJson<KernelEntry>(join(kernelDir, 'kernel.json'))
    if (kernelEntry === undefined) throw new ImageError(`extract: ${kernelDir}/kernel.json is missing or unreadable`)
  }

  return {
    kernelPackage: resolved.kernelPackage,
    kernelPackageVersion: resolved.kernelPackageVersion,
    kernelVersion: kernelEntry.kernelVersion,
    vmlinuz: join(kernelDir, 'vmlinuz'),
    modules: kernelEntry.modules.map(name => ({ name, path: join(kernelDir, 'modules', `${name}.ko`) })),
    busyboxVersion: resolved.busyboxVersion,
    busybox: join(busyboxDir, 'busybox')
  }
}

type DownloadStep = 'download-kernel' | 'download-busybox'

/** `apt-get download` of one exact package version, reporting bytes, retried once after `apt-get update` if apt did not know it. */
async function downloadDeb (
  d: { step: DownloadStep, pkg: string, version: string, size: number | undefined, dir: string },
  c: { progress: (p: PartsProgress) => void, updateOnce: (why: string) => Promise<boolean> }
): Promise<string> {
  let total = d.size
  if (total === undefined) {
    const shown = await aptShow([d.pkg], d.step)
    total = shown.ok ? shown.packages.find(p => p.package === d.pkg && p.version === d.version)?.size : undefined
  }
  const detail = `${d.pkg} ${d.version}`
  const onBytes = (done: number): void => { c.progress({ step: d.step, detail, done, ...(total === undefined ? {} : { total }) }) }
  onBytes(0)
  let r = await aptDownload(d.pkg, d.version, d.dir, d.step, onBytes)
  if (!r.ok && r.unknown && await c.updateOnce(`apt-get download does not know ${d.pkg}=${d.version}`)) {
    r = await aptDownload(d.pkg, d.version, d.dir, d.step, onBytes)
  }
  if (!r.ok) throw new ImageError(r.message, { package: d.pkg, version: d.version })
  return r.file
}

async function dpkgExtract (deb: string, into: string, step: string): Promise<void> {
  await mkdir(into, { recursive: true })
  await runHostCommandOk('dpkg-deb', ['-x', deb, into], { step })
}

async function extractKernel (deb: string, tree: string, dest: string, roots: readonly string[]): Promise<void> {
  await dpkgExtract(deb, tree, 'extract kernel')
  const vmlinuz = (await readdir(join(tree, 'boot')).catch(() => [] as string[])).find(f => f.startsWith('vmlinuz-'))
  if (vmlinuz === undefined) throw new ImageError(`extract kernel: no boot/vmlinuz-* in ${deb}`)
  const kernelVersion = vmlinuz.slice('vmlinuz-'.length)
  let modulesRoot: string | undefined
  for (const base of ['lib/modules', 'usr/lib/modules']) {
    const candidate = join(tree, base, kernelVersion)
    if ((await readdir(candidate).catch(() => undefined)) !== undefined) { modulesRoot = candidate; break }
  }
  if (modulesRoot === undefined) throw new ImageError(`extract kernel: no lib/modules/${kernelVersion} in ${deb}`)
  const modules = await collectGuestModules(modulesRoot, roots)
  await copyFile(join(tree, 'boot', vmlinuz), join(dest, 'vmlinuz'))
  await mkdir(join(dest, 'modules'))
  for (const m of modules) await writeFile(join(dest, 'modules', `${m.name}.ko`), m.data)
  const entry: KernelEntry = { kernelVersion, modules: modules.map(m => m.name) }
  await writeFile(join(dest, 'kernel.json'), JSON.stringify(entry, null, 2) + '\n')
}

async function extractBusybox (deb: string, tree: string, dest: string, version: string): Promise<void> {
  await dpkgExtract(deb, tree, 'extract busybox')
  for (const rel of ['bin/busybox', 'usr/bin/busybox']) {
    try {
      await copyFile(join(tree, rel), join(dest, 'busybox'))
      await writeFile(join(dest, 'busybox.json'), JSON.stringify({ version }) + '\n')
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  throw new ImageError(`extract busybox: no bin/busybox in ${deb}`)
}
