import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ImageError } from '../../errors/errors.js'
import { createCpioGz, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './cpio.js'
import { defaultCacheDir } from './debian-packages.js'
import { appRuntime, nodeRuntimeLayer } from './node-runtime.js'

/** Where the app lives in the guest (no leading slash: cpio paths are relative). */
export const APP_ROOT = 'app'

/** The app layer: a gzip'd cpio of the app dir under /app, and the entries it holds. */
export interface AppLayer {
  data: Buffer
  entries: CpioEntry[]
  /** Regular files' bytes (the layer's uncompressed content size, headers aside). */
  contentBytes: number
  /** The runtime the layer carries besides the app (node-runtime.ts). */
  runtime?: 'node'
}

function byName (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Checks that `appDir` is a directory holding an executable `run`. */
export async function checkAppDir (appDir: string): Promise<void> {
  let dir
  try {
    dir = await stat(appDir)
  } catch {
    throw new ImageError(`app dir ${appDir} does not exist`, { appDir })
  }
  if (!dir.isDirectory()) throw new ImageError(`app dir ${appDir} is not a directory`, { appDir })
  const run = await stat(join(appDir, 'run')).catch(() => undefined)
  if (run === undefined || !run.isFile() || (run.mode & 0o111) === 0) {
    throw new ImageError(`app dir has no executable run (${join(appDir, 'run')}): the guest's init starts /app/run`, { appDir })
  }
}

/**
 * The cpio entries of `appDir` under `app/`: sorted, modes and symlinks kept, owner root,
 * mtime 0, so equal directories give equal bytes. Sockets, fifos and devices are refused.
 */
export async function appLayerEntries (appDir: string): Promise<CpioEntry[]> {
  await checkAppDir(appDir)
  const rootMode = (await stat(appDir)).mode & 0o7777
  const out: CpioEntry[] = [{ path: APP_ROOT, mode: S_IFDIR | rootMode }]
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort(byName)) {
      const file = join(abs, name)
      const path = `${rel}/${name}`
      const s = await lstat(file)
      const perm = s.mode & 0o7777
      if (s.isDirectory()) {
        out.push({ path, mode: S_IFDIR | perm })
        await walk(file, path)
      } else if (s.isSymbolicLink()) {
        out.push({ path, mode: S_IFLNK | 0o777, data: Buffer.from(await readlink(file)) })
      } else if (s.isFile()) {
        out.push({ path, mode: S_IFREG | perm, data: await readFile(file) })
      } else {
        throw new ImageError(`app dir: ${file} is neither a file, a directory nor a symlink`, { path: file })
      }
    }
  }
  await walk(appDir, APP_ROOT)
  return out
}

/**
 * Packs `appDir` (which must hold an executable `run`) into the app layer. An app that needs
 * Node.js (see appRuntime) gets the host's node and its libraries too, as a gzip'd cpio of its
 * own ahead of the app's (cached in `cacheDir`); `entries` stay the app's only. `runtime`
 * (roost.toml's `[build] runtime`) asks for it without looking at the app.
 */
export async function packAppLayer (appDir: string, opts: { cacheDir?: string, runtime?: 'node' } = {}): Promise<AppLayer> {
  const entries = await appLayerEntries(appDir)
  const contentBytes = entries.reduce((n, e) => n + ((e.mode & 0o170000) === S_IFREG ? e.data?.length ?? 0 : 0), 0)
  const app = createCpioGz(entries)
  if ((opts.runtime ?? await appRuntime(appDir)) !== 'node') return { data: app, entries, contentBytes }
  const runtime = await nodeRuntimeLayer({ cacheDir: opts.cacheDir ?? defaultCacheDir() })
  return { data: Buffer.concat([await readFile(runtime.path), app]), entries, contentBytes: contentBytes + runtime.contentBytes, runtime: 'node' }
}
