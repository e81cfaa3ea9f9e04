import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import { lastLines, runHostCommand, runHostCommandOk } from './host-command.js'

/** One package stanza as `apt-cache show` prints it (only the fields roost reads). */
export interface AptPackage {
  package: string
  version: string
  size?: number
  depends: string
}

const UNKNOWN_PACKAGE_RE = /Unable to locate package|No packages found|Can't find a source to download|Couldn't find any package|has no installation candidate/i

/** Whether apt's complaint means its package lists are missing or stale (`apt-get update` may help). */
export function looksLikeUnknownPackage (stderr: string): boolean {
  return UNKNOWN_PACKAGE_RE.test(stderr)
}

/** Parses `apt-cache show` output into stanzas. */
export function parseAptShow (text: string): AptPackage[] {
  const out: AptPackage[] = []
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>()
    let last = ''
    for (const line of block.split('\n')) {
      if (/^\s/.test(line) && last !== '') fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`)
      else {
        const i = line.indexOf(':')
        if (i <= 0) continue
        last = line.slice(0, i)
        fields.set(last, line.slice(i + 1).trim())
      }
    }
    const pkg = fields.get('Package')
    const version = fields.get('Version')
    if (pkg === undefined || version === undefined) continue
    const size = Number(fields.get('Size'))
    out.push({ package: pkg, version, depends: fields.get('Depends') ?? '', ...(Number.isFinite(size) && size > 0 ? { size } : {}) })
  }
  return out
}

/** `apt-get update`, as a step of its own so failures say so. */
export async function aptUpdate (): Promise<void> {
  await runHostCommandOk('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'update', '-qq'], { step: 'apt-get update' })
}

/** Candidate versions of `names` (`apt-cache show --no-all-versions`); a non-zero exit is an error carrying apt's message. */
export async function aptShow (names: string[], step: string): Promise<{ ok: true, packages: AptPackage[] } | { ok: false, stderr: string }> {
  const r = await runHostCommand('apt-cache', ['show', '--no-all-versions', ...names], { step })
  if (r.code !== 0) return { ok: false, stderr: r.stderr }
  return { ok: true, packages: parseAptShow(r.stdout) }
}

/** The versioned kernel package a meta package (linux-image-cloud-amd64) depends on, e.g. linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2). */
export function kernelDependency (meta: AptPackage): { package: string, version?: string } {
  for (const alt of meta.depends.split(/[,|]/)) {
    const m = /^\s*(linux-image-\S+)(?:\s*\(\s*=\s*([^)\s]+)\s*\))?/.exec(alt)
    if (m?.[1] !== undefined) return m[2] === undefined ? { package: m[1] } : { package: m[1], version: m[2] }
  }
  throw new ImageError(`resolve packages: ${meta.package} ${meta.version} depends on no linux-image-* package (Depends: ${meta.depends || 'none'})`)
}

/**
 * `apt-get download PKG=VERSION` into `dir`, reporting the bytes on disk while it runs. Throws
 * ImageError naming the package; `unknown` tells the caller apt did not know the package (run
 * `apt-get update` and retry).
 */
export async function aptDownload (pkg: string, version: string, dir: string, step: string, onBytes?: (done: number) => void): Promise<{ ok: true, file: string } | { ok: false, unknown: boolean, message: string }> {
  const timer = onBytes === undefined ? undefined : setInterval(() => { dirBytes(dir, `${pkg}_`).then(onBytes, () => {}) }, 250)
  try {
    const r = await runHostCommand('apt-get', ['download', '-q', `${pkg}=${version}`], { cwd: dir, step })
    if (r.code !== 0) {
      return { ok: false, unknown: looksLikeUnknownPackage(r.stderr), message: `${step}: 'apt-get download ${pkg}=${version}' failed (${r.code ?? r.signal ?? '?'}): ${lastLines(r.stderr)}` }
    }
    const debs = (await readdir(dir)).filter(f => f.endsWith('.deb') && f.startsWith(`${pkg}_`))
    const file = debs[0]
    if (file === undefined) return { ok: false, unknown: false, message: `${step}: apt-get download ${pkg}=${version} left no .deb in ${dir}` }
    onBytes?.((await stat(join(dir, file))).size)
    return { ok: true, file: join(dir, file) }
  } finally {
    if (timer !== undefined) clearInterval(timer)
  }
}

async function dirBytes (dir: string, prefix: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile() && e.name.startsWith(prefix)) total += (await stat(join(dir, e.name))).size
  }
  return total
}

/**
 * A cheap fingerprint of apt's package lists (names, sizes, mtimes): when it is unchanged, an
 * earlier resolution still holds, and the ~1 s `apt-cache` parse can be skipped.
 */
export async function aptListsStamp (listsDir: string): Promise<string> {
  try {
    const parts: string[] = []
    for (const name of (await readdir(listsDir)).sort()) {
      if (name === 'lock') continue
      const s = await stat(join(listsDir, name))
      if (s.isFile()) parts.push(`${name}:${s.size}:${Math.trunc(s.mtimeMs)}`)
    }
    return parts.join('|')
  } catch {
    return ''
  }
}
