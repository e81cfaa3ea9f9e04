import { createHash } from 'node:crypto'
import { access, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { delimiter, join, resolve as resolvePath } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import type { Logger } from '../../log/logger.js'
import { tempSibling, withScratchDir } from './atomic-fs.js'
import { acquireBuildLock } from './build-lock.js'
import { defaultCacheDir, DEFAULT_APT_LISTS_DIR } from './debian-packages.js'
import { runHostCommand } from './host-command.js'
import { GUEST_KERNEL_FRAGMENT, unmetOptions } from './kernel-config.js'
import { pvhEntryOfFile } from './kernel-elf.js'
import { runKernelMake } from './kernel-make.js'
import { DEFAULT_KERNEL_SOURCE_PACKAGE, downloadKernelSource, extractKernelSource, resolveKernelSource } from './kernel-source.js'
import { readJson } from './package-resolution.js'

/** Bump when the build procedure changes in a way that changes its output. */
const KERNEL_FORMAT = 1
/** Compiled units (CC/AS lines) of a build of the default fragment: the progress total before the first build. */
const EXPECTED_UNITS = 1_064

/** The steps of a kernel build, in order; errors name the one that failed. */
export type KernelStep = 'kernel-tools' | 'kernel-resolve' | 'kernel-wait' | 'kernel-download' | 'kernel-extract' | 'kernel-configure' | 'kernel-compile' | 'kernel-install'

/** A progress report; `done`/`total` are bytes (download) or compiled units (compile). */
export interface KernelProgress {
  step: KernelStep
  detail: string
  done?: number
  total?: number
}

/** Options of ensureGuestKernel. */
export interface GuestKernelInit {
  /** Defaults to ROOST_CACHE_DIR or ~/.cache/roost; kernels live in `<cacheDir>/kernels/<key>/`. */
  cacheDir?: string
  /** Rebuild even when a kernel with this key is cached. */
  force?: boolean
  sourcePackage?: string
  /** Config fragment text; defaults to GUEST_KERNEL_FRAGMENT. */
  fragment?: string
  /** make -j; defaults to the number of CPUs. */
  jobs?: number
  aptListsDir?: string
  onProgress?: (p: KernelProgress) => void
}

/** A built minimal guest kernel in the cache. */
export interface GuestKernel {
  /** The cache directory of this kernel. */
  dir: string
  /** Uncompressed ELF kernel with the PVH entry note: QEMU boots it directly (no decompression). */
  vmlinux: string
  bzImage: string
  /** The final .config. */
  config: string
  /** sha256(format, source package version, gcc version, fragment). */
  key: string
  /** The kernel release (`uname -r` in the guest). */
  version: string
  sourcePackage: string
  sourceVersion: string
  /** Whether it was already built (by this or another process). */
  cached: boolean
}

interface KernelRecord {
  key: string
  release: string
  sourcePackage: string
  sourceVersion: string
  gcc: string
  units: number
  buildMs: number
  builtAt: string
}

const REQUIRED_TOOLS = ['gcc', 'make', 'flex', 'bison', 'bc', 'perl', 'tar', 'xz', 'dpkg-deb', 'apt-get']
const REQUIRED_HEADERS = ['/usr/include/libelf.h']
/** What to install on Debian for the tools above. */
export const KERNEL_BUILD_PACKAGES = ['build-essential', 'flex', 'bison', 'bc', 'libelf-dev', 'xz-utils']

async function onPath (cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      await access(join(dir, cmd))
      return true
    } catch {}
  }
  return false
}

/** Host tools and headers a kernel build needs that are missing here (empty: can build). */
export async function missingKernelBuildTools (): Promise<string[]> {
  const missing: string[] = []
  for (const t of REQUIRED_TOOLS) if (!await onPath(t)) missing.push(t)
  for (const h of REQUIRED_HEADERS) if (!await access(h).then(() => true, () => false)) missing.push(h)
  return missing
}

async function gccVersion (): Promise<string> {
  const r = await runHostCommand('gcc', ['--version'], { step: 'kernel-tools' })
  const first = r.stdout.split('\n')[0]?.trim() ?? ''
  if (r.code !== 0 || first === '') throw new ImageError('kernel-tools: gcc --version failed', { step: 'kernel-tools' })
  return first
}

/** The cache key: a kernel is rebuilt when the source version, the compiler or the fragment changes. */
export function guestKernelKey (k: { sourcePackage: string, sourceVersion: string, gcc: string, fragment: string }): string {
  return createHash('sha256').update(JSON.stringify({ format: KERNEL_FORMAT, source: `${k.sourcePackage}=${k.sourceVersion}`, gcc: k.gcc, fragment: k.fragment })).digest('hex')
}

function kernelOf (dir: string, rec: KernelRecord, cached: boolean): GuestKernel {
  return {
    dir,
    vmlinux: join(dir, 'vmlinux'),
    bzImage: join(dir, 'bzImage'),
    config: join(dir, 'config'),
    key: rec.key,
    version: rec.release,
    sourcePackage: rec.sourcePackage,
    sourceVersion: rec.sourceVersion,
    cached
  }
}

async function readRecord (dir: string, key: string): Promise<KernelRecord | undefined> {
  const rec = await readJson<KernelRecord>(join(dir, 'kernel.json'))
  if (rec?.key !== key) return undefined
  const present = await Promise.all(['vmlinux', 'bzImage'].map(async f => await stat(join(dir, f)).then(s => s.size > 0, () => false)))
  return present.every(Boolean) ? rec : undefined
}

/**
 * The minimal guest kernel, built once per machine from Debian's linux-source package:
 * `make ARCH=x86_64 tinyconfig` + the fragment, then vmlinux and bzImage. Cached under
 * `<cacheDir>/kernels/<key>/` (vmlinux, bzImage, config, kernel.json); the ~1.6 GB build tree
 * is deleted afterwards. Concurrent callers (processes) wait for one build. Takes ~4 min on
 * 2 idle cores, ~12 under load; a failure is an ImageError naming the step.
 */
export async function ensureGuestKernel (init: GuestKernelInit, components: { logger: Logger }): Promise<GuestKernel> {
  const log = components.logger.child({ component: 'guest-kernel' })
  const progress = init.onProgress ?? (() => {})
  const kernelsDir = join(resolvePath(init.cacheDir ?? defaultCacheDir()), 'kernels')
  const sourcePackage = init.sourcePackage ?? DEFAULT_KERNEL_SOURCE_PACKAGE
  const fragment = init.fragment ?? GUEST_KERNEL_FRAGMENT

  progress({ step: 'kernel-tools', detail: 'checking the build tools' })
  const missing = await missingKernelBuildTools()
  if (missing.length > 0) {
    throw new ImageError(`kernel-tools: missing ${missing.join(', ')} (apt-get install ${KERNEL_BUILD_PACKAGES.join(' ')})`, { step: 'kernel-tools', missing })
  }
  const gcc = await gccVersion()

  progress({ step: 'kernel-resolve', detail: sourcePackage })
  const source = await resolveKernelSource({ kernelsDir, sourcePackage, aptListsDir: init.aptListsDir ?? DEFAULT_APT_LISTS_DIR })
  const key = guestKernelKey({ sourcePackage, sourceVersion: source.version, gcc, fragment })
  const dir = join(kernelsDir, key)
  const short = key.slice(0, 12)

  if (init.force !== true) {
    const rec = await readRecord(dir, key)
    if (rec !== undefined) {
      progress({ step: 'kernel-install', detail: `${rec.release} (${short}, cached)` })
      return kernelOf(dir, rec, true)
    }
  }

  const release = await acquireBuildLock({
    path: join(kernelsDir, `${key}.lock`),
    onWait: (pid) => { progress({ step: 'kernel-wait', detail: `another build of ${short} is running (pid ${pid}); waiting for it` }) }
  })
  try {
    if (init.force !== true) {
      const rec = await readRecord(dir, key)
      if (rec !== undefined) {
        progress({ step: 'kernel-install', detail: `${rec.release} (${short}, built by another process)` })
        return kernelOf(dir, rec, true)
      }
    }
    await removeDeadScratch(kernelsDir, log)
    const started = Date.now()
    const rec = await withScratchDir(kernelsDir, async (work) => await buildKernel({ work, dir, key, gcc, source, fragment, jobs: init.jobs ?? availableParallelism(), kernelsDir, progress }))
    log.info({ key, release: rec.release, ms: Date.now() - started }, 'guest kernel built')
    return kernelOf(dir, rec, false)
  } finally {
    await release()
  }
}

/** Build trees (~1.6 GB) of builders that died mid-build: `.tmp-scratch-<pid>-…` whose pid is gone. */
async function removeDeadScratch (kernelsDir: string, log: Logger): Promise<void> {
  for (const name of await readdir(kernelsDir).catch(() => [] as string[])) {
    const pid = Number(/^\.tmp-scratch-(\d+)-/.exec(name)?.[1] ?? NaN)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      process.kill(pid, 0)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue
      log.info({ dir: name, pid }, 'removing the build tree of a dead kernel build')
      await rm(join(kernelsDir, name), { recursive: true, force: true })
    }
  }
}

interface BuildArgs {
  work: string
  dir: string
  key: string
  gcc: string
  source: { package: string, version: string, size?: number }
  fragment: string
  jobs: number
  kernelsDir: string
  progress: (p: KernelProgress) => void
}

async function buildKernel (a: BuildArgs): Promise<KernelRecord> {
  const started = Date.now()
  const { progress } = a
  const what = `${a.source.package} ${a.source.version}`
  const size = a.source.size
  progress({ step: 'kernel-download', detail: what, done: 0, ...(size === undefined ? {} : { total: size }) })
  const deb = await downloadKernelSource(a.source, a.work, (done) => { progress({ step: 'kernel-download', detail: what, done, ...(size === undefined ? {} : { total: size }) }) })

  progress({ step: 'kernel-extract', detail: `${what} (~1.5 GB)` })
  const tree = await extractKernelSource(deb, join(a.work, 'tree'))
  await rm(deb, { force: true })

  progress({ step: 'kernel-configure', detail: 'tinyconfig + roost fragment' })
  await runKernelMake({ cwd: tree, args: ['tinyconfig'], step: 'kernel-configure' })
  const fragmentFile = join(a.work, 'roost.config')
  await writeFile(fragmentFile, a.fragment)
  const merged = await runHostCommand(join(tree, 'scripts', 'kconfig', 'merge_config.sh'), ['-m', '.config', fragmentFile], { cwd: tree, step: 'kernel-configure', env: { ...process.env, ARCH: 'x86_64' } })
  if (merged.code !== 0) throw new ImageError(`kernel-configure: merge_config.sh failed: ${merged.stderr.trim() || merged.stdout.trim()}`, { step: 'kernel-configure' })
  await runKernelMake({ cwd: tree, args: ['olddefconfig'], step: 'kernel-configure' })
  const config = await readFile(join(tree, '.config'), 'utf8')
  const unmet = unmetOptions(a.fragment, config)
  if (unmet.length > 0) throw new ImageError(`kernel-configure: options did not stick (a dependency is off): ${unmet.join('; ')}`, { step: 'kernel-configure', unmet })

  const last = await readJson<{ units: number }>(join(a.kernelsDir, 'last-build.json'))
  const total = last?.units ?? EXPECTED_UNITS
  let units = 0
  let reported = 0
  progress({ step: 'kernel-compile', detail: `make -j${a.jobs} vmlinux bzImage`, done: 0, total })
  await runKernelMake({
    cwd: tree,
    args: [`-j${a.jobs}`, 'vmlinux', 'bzImage'],
    step: 'kernel-compile',
    onUnit: (path) => {
      units++
      const now = Date.now()
      if (now - reported < 1_000) return
      reported = now
      progress({ step: 'kernel-compile', detail: `${path} (${Math.round((now - started) / 1000)} s)`, done: Math.min(units, total), total: Math.max(total, units) })
    }
  })

  progress({ step: 'kernel-install', detail: a.dir })
  const releaseText = (await readFile(join(tree, 'include', 'config', 'kernel.release'), 'utf8').catch(() => '')).trim()
  if (releaseText === '') throw new ImageError('kernel-install: the build left no include/config/kernel.release', { step: 'kernel-install' })
  if (await pvhEntryOfFile(join(tree, 'vmlinux')) === null) throw new ImageError('kernel-install: vmlinux carries no PVH entry note (is CONFIG_PVH on?)', { step: 'kernel-install' })
  const rec: KernelRecord = {
    key: a.key,
    release: releaseText,
    sourcePackage: a.source.package,
    sourceVersion: a.source.version,
    gcc: a.gcc,
    units,
    buildMs: Date.now() - started,
    builtAt: new Date().toISOString()
  }
  const tmp = tempSibling(a.dir)
  await mkdir(tmp, { recursive: true })
  try {
    await copyFile(join(tree, 'vmlinux'), join(tmp, 'vmlinux'))
    await copyFile(join(tree, 'arch', 'x86', 'boot', 'bzImage'), join(tmp, 'bzImage'))
    await writeFile(join(tmp, 'config'), config)
    await writeFile(join(tmp, 'kernel.json'), JSON.stringify(rec, null, 2) + '\n')
    // Held under the lock: replacing an older copy (force, or a damaged one) cannot race another builder.
    const old = tempSibling(a.dir)
    await rename(a.dir, old).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
    await rename(tmp, a.dir)
    await rm(old, { recursive: true, force: true })
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err instanceof ImageError ? err : new ImageError(`kernel-install: ${(err as Error).message}`, { step: 'kernel-install' })
  }
  await writeFile(join(a.kernelsDir, 'last-build.json'), JSON.stringify({ units }) + '\n').catch(() => {})
  return rec
}
