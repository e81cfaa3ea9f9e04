import { readFile } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import type { Logger } from '../../log/logger.js'
import { checkAppDir, packAppLayer } from './app-layer.js'
import { buildBaseInitramfs } from './base-initramfs.js'
import { defaultCacheDir, obtainGuestParts, type PartsStep } from './debian-packages.js'
import { createImageStore, type StoredImage } from './image-store.js'
import type { ImageManifest } from './manifest.js'

/** The steps of a build, in order. */
export type BuildStep = PartsStep | 'base-initramfs' | 'pack-app' | 'store'

/** A progress report: a step, what it is doing, and bytes done/total where known. */
export interface BuildProgress {
  step: BuildStep
  detail: string
  done?: number
  total?: number
}

export interface BuildImageInit {
  /** The app directory (must hold an executable `run`). */
  appDir: string
  imagesDir: string
  /** Packages and base initramfs cache; defaults to ROOST_CACHE_DIR or ~/.cache/roost. */
  cacheDir?: string
  name?: string
  onProgress?: (p: BuildProgress) => void
}

/** A built image: its manifest, where it lives, and whether an equal image was already stored. */
export type BuiltImage = ImageManifest & { dir: string, reused: boolean }

/**
 * Builds a guest image from an app directory: Debian's cloud kernel and busybox (downloaded
 * once into the cache), the base initramfs (cached per kernel/busybox/init), the app layer, and
 * stores the result content-addressed under `imagesDir`.
 */
export async function buildImage (init: BuildImageInit, components: { logger: Logger }): Promise<BuiltImage> {
  const log = components.logger.child({ component: 'image-build' })
  const progress = init.onProgress ?? (() => {})
  const cacheDir = resolvePath(init.cacheDir ?? defaultCacheDir())
  const appDir = resolvePath(init.appDir)
  const started = Date.now()
  await checkAppDir(appDir)

  const parts = await obtainGuestParts({ cacheDir, onProgress: progress }, { logger: log })

  progress({ step: 'base-initramfs', detail: `${parts.kernelVersion}, busybox ${parts.busyboxVersion}` })
  const base = await buildBaseInitramfs(parts, { cacheDir })
  progress({ step: 'base-initramfs', detail: `${base.cached ? 'cached' : 'built'} (${base.sizeBytes} bytes)`, done: base.sizeBytes, total: base.sizeBytes })

  progress({ step: 'pack-app', detail: appDir })
  const app = await packAppLayer(appDir)
  progress({ step: 'pack-app', detail: `${app.entries.length} entries, ${app.contentBytes} bytes → ${app.data.length} bytes`, done: app.data.length, total: app.data.length })

  progress({ step: 'store', detail: init.imagesDir })
  const store = createImageStore({ imagesDir: resolvePath(init.imagesDir) }, { logger: log })
  const stored = await store.put({
    kernel: parts.vmlinuz,
    initrdLayers: [await readFile(base.path), app.data],
    appEntries: app.entries,
    kernelVersion: parts.kernelVersion,
    modules: parts.modules.map(m => m.name),
    ...(init.name === undefined ? {} : { name: init.name })
  })
  progress({ step: 'store', detail: `${stored.digest}${stored.reused ? ' (already stored)' : ''}`, done: stored.sizeBytes, total: stored.sizeBytes })
  log.info({ digest: stored.digest, name: stored.name, ms: Date.now() - started, reused: stored.reused, baseCached: base.cached }, 'image built')
  return stored
}

export type { StoredImage }
