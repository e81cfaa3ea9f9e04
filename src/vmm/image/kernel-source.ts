import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import { aptDownload, aptListsStamp, aptShow, aptUpdate, looksLikeUnknownPackage } from './apt.js'
import { writeFileAtomically } from './atomic-fs.js'
import { runHostCommandOk } from './host-command.js'
import { readJson } from './package-resolution.js'

/** Debian's kernel source package the minimal guest kernel is built from. */
export const DEFAULT_KERNEL_SOURCE_PACKAGE = 'linux-source-6.1'

/** The source package version to build, as `<kernelsDir>/source.json` remembers it. */
export interface ResolvedSource {
  stamp: string
  package: string
  version: string
  size?: number
}

/**
 * The candidate version of the source package. apt-cache takes ~1 s, so the answer is kept
 * until apt's lists change; offline (or without apt) an earlier answer is used.
 */
export async function resolveKernelSource (init: { kernelsDir: string, sourcePackage: string, aptListsDir: string }): Promise<ResolvedSource> {
  const file = join(init.kernelsDir, 'source.json')
  const cached = await readJson<ResolvedSource>(file)
  const usable = cached !== undefined && cached.package === init.sourcePackage
  const stamp = await aptListsStamp(init.aptListsDir)
  if (usable && stamp !== '' && cached.stamp === stamp) return cached
  try {
    let shown = await aptShow([init.sourcePackage], 'kernel-resolve')
    if (!shown.ok && looksLikeUnknownPackage(shown.stderr)) {
      await aptUpdate()
      shown = await aptShow([init.sourcePackage], 'kernel-resolve')
    }
    if (!shown.ok) throw new ImageError(`kernel-resolve: apt-cache show ${init.sourcePackage} failed: ${shown.stderr.trim()}`)
    const p = shown.packages.find(x => x.package === init.sourcePackage)
    if (p === undefined) throw new ImageError(`kernel-resolve: apt knows no package ${init.sourcePackage}`)
    const resolved: ResolvedSource = { stamp: await aptListsStamp(init.aptListsDir), package: p.package, version: p.version, ...(p.size === undefined ? {} : { size: p.size }) }
    await writeFileAtomically(file, JSON.stringify(resolved, null, 2) + '\n')
    return resolved
  } catch (err) {
    if (!usable) throw err
    return cached
  }
}

/** Downloads the source .deb into `dir` (bytes reported while it runs); retried once after `apt-get update`. */
export async function downloadKernelSource (src: Pick<ResolvedSource, 'package' | 'version'>, dir: string, onBytes: (done: number) => void): Promise<string> {
  let r = await aptDownload(src.package, src.version, dir, 'kernel-download', onBytes)
  if (!r.ok && r.unknown) {
    await aptUpdate()
    r = await aptDownload(src.package, src.version, dir, 'kernel-download', onBytes)
  }
  if (!r.ok) throw new ImageError(r.message, { package: src.package, version: src.version })
  return r.file
}

/**
 * Unpacks the .deb and the kernel tarball inside it (usr/src/linux-source-*.tar.xz) under
 * `dir`; returns the source tree (the directory holding the top Makefile).
 */
export async function extractKernelSource (deb: string, dir: string): Promise<string> {
  const debTree = join(dir, 'deb')
  await mkdir(debTree, { recursive: true })
  await runHostCommandOk('dpkg-deb', ['-x', deb, debTree], { step: 'kernel-extract' })
  const srcDir = join(debTree, 'usr', 'src')
  const tarball = (await readdir(srcDir).catch(() => [] as string[])).find(f => /^linux-source-.*\.tar\.(xz|gz|bz2)$/.test(f))
  if (tarball === undefined) throw new ImageError(`kernel-extract: no usr/src/linux-source-*.tar.* in ${deb}`)
  const tree = join(dir, 'src')
  await mkdir(tree)
  await runHostCommandOk('tar', ['-xf', join(srcDir, tarball), '-C', tree], { step: 'kernel-extract' })
  const top = (await readdir(tree, { withFileTypes: true })).filter(e => e.isDirectory())
  const only = top[0]
  if (top.length !== 1 || only === undefined) throw new ImageError(`kernel-extract: ${tarball} did not unpack to one directory`)
  return join(tree, only.name)
}
