import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import type { Logger } from '../../log/logger.js'
import { aptListsStamp, aptShow, kernelDependency, looksLikeUnknownPackage, type AptPackage } from './apt.js'
import { writeFileAtomically } from './atomic-fs.js'

/** Which exact packages a build uses, as `<cacheDir>/resolved.json` remembers them. */
export interface ResolvedPackages {
  /** Fingerprint of apt's lists when this was resolved. */
  stamp: string
  kernelMeta: string
  busyboxPackage: string
  kernelPackage: string
  kernelPackageVersion: string
  kernelSize?: number
  busyboxVersion: string
  busyboxSize?: number
}

/** Reads a JSON file; missing or unparsable is undefined. */
export async function readJson<T> (file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T
  } catch {
    return undefined
  }
}

async function resolveWithApt (init: { kernelMeta: string, busyboxPackage: string, aptListsDir: string }, updateOnce: (why: string) => Promise<boolean>): Promise<ResolvedPackages> {
  const { kernelMeta, busyboxPackage } = init
  let shown = await aptShow([kernelMeta, busyboxPackage], 'resolve packages')
  if (!shown.ok && looksLikeUnknownPackage(shown.stderr) && await updateOnce(`apt-cache does not know ${kernelMeta}/${busyboxPackage}`)) {
    shown = await aptShow([kernelMeta, busyboxPackage], 'resolve packages')
  }
  if (!shown.ok) throw new ImageError(`resolve packages: apt-cache show ${kernelMeta} ${busyboxPackage} failed: ${shown.stderr.trim()}`)
  const packages = shown.packages
  const find = (name: string): AptPackage => {
    const p = packages.find(x => x.package === name)
    if (p === undefined) throw new ImageError(`resolve packages: apt knows no package ${name}`)
    return p
  }
  const dep = kernelDependency(find(kernelMeta))
  const bb = find(busyboxPackage)
  let kernelVersion = dep.version
  let kernelSize: number | undefined
  if (kernelVersion === undefined) {
    const k = await aptShow([dep.package], 'resolve packages')
    const p = k.ok ? k.packages.find(x => x.package === dep.package) : undefined
    if (p === undefined) throw new ImageError(`resolve packages: apt knows no package ${dep.package} (needed by ${kernelMeta})`)
    kernelVersion = p.version
    kernelSize = p.size
  }
  return {
    stamp: await aptListsStamp(init.aptListsDir),
    kernelMeta,
    busyboxPackage,
    kernelPackage: dep.package,
    kernelPackageVersion: kernelVersion,
    busyboxVersion: bb.version,
    ...(kernelSize === undefined ? {} : { kernelSize }),
    ...(bb.size === undefined ? {} : { busyboxSize: bb.size })
  }
}

/**
 * The exact kernel package (linux-image-cloud-amd64 → linux-image-6.1.0-NN-cloud-amd64 and its
 * version) and busybox version to use. apt-cache takes ~1 s to parse its lists, so the answer is
 * remembered in the cache until apt's lists change. Offline or without apt, an earlier answer
 * is used (its files are then normally cached too).
 */
export async function resolveGuestPackages (
  init: { cacheDir: string, kernelMeta: string, busyboxPackage: string, aptListsDir: string },
  components: { logger: Logger, updateOnce: (why: string) => Promise<boolean> }
): Promise<ResolvedPackages> {
  const file = join(init.cacheDir, 'resolved.json')
  const cached = await readJson<ResolvedPackages>(file)
  const usable = cached !== undefined && cached.kernelMeta === init.kernelMeta && cached.busyboxPackage === init.busyboxPackage
  const stamp = await aptListsStamp(init.aptListsDir)
  if (usable && stamp !== '' && cached.stamp === stamp) return cached
  try {
    const resolved = await resolveWithApt(init, components.updateOnce)
    await writeFileAtomically(file, JSON.stringify(resolved, null, 2) + '\n')
    return resolved
  } catch (err) {
    if (!usable) throw err
    components.logger.warn({ err: (err as Error).message }, 'package resolution failed; using the cached resolution')
    return cached
  }
}
