import { createHash } from 'node:crypto'
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../log/logger.js'
import { installDirAtomically, tempSibling } from './image/atomic-fs.js'
import { cloneGuestVersion } from './clone-guest.js'
import { bootTemplate, SNAPSHOT_FILES, type TemplateInit } from './snapshot-template.js'

/** Bump when the layout of a warm snapshot or the QEMU arguments around it change. */
const SNAPSHOT_FORMAT = 1

/** Everything a warm snapshot depends on: a change to any of them makes another key. */
export interface SnapshotKeyParts {
  imageDigest: string
  /** The kernel file the VM boots (the image's, or one a driver substitutes) and its size/mtime. */
  kernel: string
  kernelStamp: string
  cpus: number
  memoryMb: number
  accel: string
  qemuVersion: string
}

/** A warm snapshot in the cache: boot a clone with `-incoming` from `statePath` over a private mapping of `ramPath`. */
export interface WarmSnapshot {
  key: string
  dir: string
  statePath: string
  ramPath: string
  createdAt: string
  /** Whether this call found it in the cache (false: it was just built). */
  cached: boolean
  /** When built now: the template's boot and save times. */
  buildMs?: { bootMs: number, saveMs: number }
}

interface SnapshotMeta { key: string, parts: SnapshotKeyParts, guest: string, format: number, createdAt: string }

/** The content address of a warm snapshot. */
export function snapshotKey (parts: SnapshotKeyParts): string {
  const h = createHash('sha256')
  h.update(JSON.stringify({ format: SNAPSHOT_FORMAT, guest: cloneGuestVersion(), ...parts }))
  return h.digest('hex').slice(0, 32)
}

/** A file's size and mtime, as a cheap stamp for the key. */
export async function fileStamp (path: string): Promise<string> {
  const s = await stat(path)
  return `${s.size}:${Math.trunc(s.mtimeMs)}`
}

export interface SnapshotCache {
  readonly dir: string
  /** The snapshot for `parts`: from the cache, else built by booting a template (concurrent callers share one build). */
  ensure: (parts: SnapshotKeyParts, template: Omit<TemplateInit, 'outDir'>) => Promise<WarmSnapshot>
  /** The cached snapshot for `parts`, or null. */
  lookup: (parts: SnapshotKeyParts) => Promise<WarmSnapshot | null>
  /** Drops a snapshot (e.g. one a clone could not load). */
  remove: (key: string) => Promise<void>
}

/**
 * Warm snapshots under `<cacheDir>/snapshots/<key>/` (state.bin, ram.img, meta.json), one per
 * image, kernel, memory size, CPUs, accelerator and QEMU version on this host. Installed by an
 * atomic rename, so a half-built one is never used; clones that still map a replaced ram.img keep
 * their (unlinked) copy.
 */
export function createSnapshotCache (init: { cacheDir: string }, components: { logger: Logger }): SnapshotCache {
  const dir = join(init.cacheDir, 'snapshots')
  const building = new Map<string, Promise<WarmSnapshot>>()
  const log = components.logger.child({ component: 'snapshot-cache' })

  const lookupKey = async (key: string): Promise<WarmSnapshot | null> => {
    const d = join(dir, key)
    try {
      const meta = JSON.parse(await readFile(join(d, SNAPSHOT_FILES.meta), 'utf8')) as SnapshotMeta
      await stat(join(d, SNAPSHOT_FILES.state))
      await stat(join(d, SNAPSHOT_FILES.ram))
      if (meta.key !== key) return null
      return { key, dir: d, statePath: join(d, SNAPSHOT_FILES.state), ramPath: join(d, SNAPSHOT_FILES.ram), createdAt: meta.createdAt, cached: true }
    } catch {
      return null
    }
  }

  const remove = async (key: string): Promise<void> => {
    const d = join(dir, key)
    const trash = tempSibling(d)
    try {
      await rename(d, trash)
    } catch {
      return
    }
    await rm(trash, { recursive: true, force: true })
  }

  const build = async (key: string, parts: SnapshotKeyParts, template: Omit<TemplateInit, 'outDir'>): Promise<WarmSnapshot> => {
    let times: { bootMs: number, saveMs: number } | undefined
    const createdAt = new Date().toISOString()
    // A damaged entry (files missing) is replaced.
    if (await stat(join(dir, key)).then(() => true, () => false)) await remove(key)
    await installDirAtomically(join(dir, key), async (tmp) => {
      times = await bootTemplate({ ...template, outDir: tmp }, { logger: log })
      const meta: SnapshotMeta = { key, parts, guest: cloneGuestVersion(), format: SNAPSHOT_FORMAT, createdAt }
      await writeFile(join(tmp, SNAPSHOT_FILES.meta), JSON.stringify(meta, null, 2) + '\n')
    })
    const found = await lookupKey(key)
    if (found === null) throw new Error(`warm snapshot ${key} vanished right after it was built`)
    return { ...found, cached: times === undefined, ...(times === undefined ? {} : { buildMs: times }) }
  }

  return {
    dir,
    lookup: async (parts) => await lookupKey(snapshotKey(parts)),
    remove,
    ensure: async (parts, template) => {
      const key = snapshotKey(parts)
      const found = await lookupKey(key)
      if (found !== null) return found
      let p = building.get(key)
      if (p === undefined) {
        log.info({ key, image: parts.imageDigest, memoryMb: parts.memoryMb }, 'building a warm snapshot')
        p = build(key, parts, template).finally(() => building.delete(key))
        building.set(key, p)
      }
      return await p
    }
  }
}
