import { createHash } from 'node:crypto'
import { readFile, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import { writeFileAtomically } from './atomic-fs.js'
import { createCpioGz, S_IFDIR, S_IFREG, type CpioEntry } from './cpio.js'
import { runHostCommand } from './host-command.js'

/** Bump when the runtime layer's layout changes. */
const RUNTIME_FORMAT = 1
/** Where node goes in the guest (on /init's PATH). */
export const GUEST_NODE_PATH = 'usr/bin/node'
/**
 * Guest memory a Node.js app gets unless its machine says otherwise: the initramfs lives in RAM
 * (node alone is ~100 MB unpacked, plus the compressed copy while the kernel unpacks it) and V8
 * wants its heap besides.
 */
export const NODE_DEFAULT_MEMORY_MB = 320

/** What an app asks of its image: `<appDir>/roost.json`, `{ "runtime": "node" }`. */
export interface AppManifest {
  runtime?: 'node'
}

/**
 * The runtime an app needs: 'node' when its roost.json says so or its `run` is a node script
 * (`#!…node` on the first line); null for a plain busybox app.
 */
export async function appRuntime (appDir: string): Promise<'node' | null> {
  const manifest = await readFile(join(appDir, 'roost.json'), 'utf8').then(t => JSON.parse(t) as AppManifest, (err: NodeJS.ErrnoException): AppManifest => {
    if (err.code === 'ENOENT') return {}
    throw new ImageError(`app manifest ${join(appDir, 'roost.json')}: ${err.message}`, { appDir })
  })
  if (manifest.runtime !== undefined && manifest.runtime !== 'node') throw new ImageError(`app manifest ${join(appDir, 'roost.json')}: unknown runtime '${String(manifest.runtime)}' (only "node")`, { appDir })
  if (manifest.runtime === 'node') return 'node'
  const head = await readFile(join(appDir, 'run')).then(b => b.subarray(0, 256).toString('latin1'), () => '')
  return /^#![^\n]*\bnode\b/.test(head) ? 'node' : null
}

/** The shared libraries `ldd` says a binary loads (absolute paths, the loader included). */
export function parseLdd (text: string): string[] {
  const out = new Set<string>()
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (m?.[1] !== undefined) out.add(m[1])
  }
  return [...out]
}

/** The files of the runtime: node (from `nodePath`) and every library it loads, with their guest paths. */
async function runtimeFiles (nodePath: string): Promise<Array<{ guest: string, host: string }>> {
  const r = await runHostCommand('ldd', [nodePath], { step: 'node runtime' })
  if (r.code !== 0) throw new ImageError(`node runtime: ldd ${nodePath} failed: ${r.stderr.trim()}`)
  const libs = parseLdd(r.stdout)
  return [{ guest: GUEST_NODE_PATH, host: nodePath }, ...libs.map(l => ({ guest: l.replace(/^\/+/, ''), host: l }))]
}

function parentsOf (paths: string[]): string[] {
  const dirs = new Set<string>()
  for (const p of paths) {
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
  }
  return [...dirs].sort()
}

/** A Node.js runtime layer in the cache. */
export interface NodeRuntimeLayer {
  path: string
  /** Uncompressed bytes of the files it holds. */
  contentBytes: number
  cached: boolean
}

/**
 * The host's node binary (`nodePath`, default this process's) and its shared libraries as a
 * gzip'd cpio (node at /usr/bin/node, libraries where ldd found them), cached in
 * `<cacheDir>/runtime/node-<key>.cpio.gz`; the key follows the files' sizes and mtimes.
 */
export async function nodeRuntimeLayer (init: { cacheDir: string, nodePath?: string }): Promise<NodeRuntimeLayer> {
  const nodePath = await realpath(init.nodePath ?? process.execPath)
  const files = await runtimeFiles(nodePath)
  const stamps = await Promise.all(files.map(async f => { const s = await stat(f.host); return `${f.guest}:${s.size}:${Math.trunc(s.mtimeMs)}` }))
  const contentBytes = (await Promise.all(files.map(async f => (await stat(f.host)).size))).reduce((a, b) => a + b, 0)
  const key = createHash('sha256').update(JSON.stringify({ format: RUNTIME_FORMAT, stamps })).digest('hex').slice(0, 32)
  const path = join(init.cacheDir, 'runtime', `node-${key}.cpio.gz`)
  if (await stat(path).then(() => true, () => false)) return { path, contentBytes, cached: true }
  const entries: CpioEntry[] = parentsOf(files.map(f => f.guest)).map(d => ({ path: d, mode: S_IFDIR | 0o755 }))
  for (const f of files) entries.push({ path: f.guest, mode: S_IFREG | 0o755, data: await readFile(f.host) })
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  await writeFileAtomically(path, createCpioGz(entries))
  return { path, contentBytes, cached: false }
}
