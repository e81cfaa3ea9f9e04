import { readFile } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import type { Logger } from '../../log/logger.js'
import { checkAppDir, packAppLayer } from './app-layer.js'
import { buildBaseInitramfs } from './base-initramfs.js'
import { defaultCacheDir, obtainGuestParts, type GuestParts, type PartsStep } from './debian-packages.js'
import { createImageStore, type StoredImage } from './image-store.js'
import { ensureGuestKernel, missingKernelBuildTools, type KernelStep } from './kernel-build.js'
import type { ImageManifest, KernelKind } from './manifest.js'

/** The steps of a build, in order. */
export type BuildStep = PartsStep | KernelStep | 'base-initramfs' | 'pack-app' | 'store'

/** A progress report: a step, what it is doing, and bytes (or compiled units) done/total where known. */
export interface BuildProgress {
  step: BuildStep
  detail: string
  done?: number
  total?: number
}

/**
 * Which kernel an image gets: 'minimal' (roost's own, built once per machine, booted through
 * PVH), 'distribution' (Debian's cloud kernel + modules), or 'auto' (default): minimal where
 * this host has the tools to build it, distribution otherwise.
 */
export type KernelChoice = 'auto' | 'minimal' | 'distribution'

export interface BuildImageInit {
  /** The app directory (must hold an executable `run`). */
  appDir: string
  imagesDir: string
  /** Packages, kernels and base initramfs cache; defaults to ROOST_CACHE_DIR or ~/.cache/roost. */
  cacheDir?: string
  name?: string
  kernel?: KernelChoice
  /** The runtime to put in the image (roost.toml's `[build] runtime`); without it, roost.json or the `run` line decides. */
  runtime?: 'node'
  onProgress?: (p: BuildProgress) => void
}

/** A built image: its manifest, where it lives, and whether an equal image was already stored. */
export type BuiltImage = ImageManifest & { dir: string, reused: boolean }

interface ChosenKernel { kind: KernelKind, parts: GuestParts }

async function chooseKernel (init: { choice: KernelChoice, cacheDir: string, parts: GuestParts, progress: (p: BuildProgress) => void }, log: Logger): Promise<ChosenKernel> {
  if (init.choice === 'distribution') return { kind: 'distribution', parts: init.parts }
  if (init.choice === 'auto') {
    const missing = await missingKernelBuildTools()
    if (missing.length > 0) {
      log.warn({ missing }, 'cannot build the minimal guest kernel here: using the distribution kernel')
      init.progress({ step: 'kernel-tools', detail: `missing ${missing.join(', ')}: using the distribution kernel` })
      return { kind: 'distribution', parts: init.parts }
    }
  }
  const k = await ensureGuestKernel({ cacheDir: init.cacheDir, onProgress: init.progress }, { logger: log })
  // Everything the guest needs is built in: no modules to carry or load.
  return {
    kind: 'minimal-pvh',
    parts: { ...init.parts, kernelPackage: `roost-minimal/${k.sourcePackage}`, kernelPackageVersion: k.key, kernelVersion: k.version, vmlinuz: k.vmlinux, modules: [] }
  }
}

/**
 * Builds a guest image from an app directory: a kernel (roost's minimal one, built once per
 * machine, or Debian's cloud kernel) and busybox (downloaded once into the cache), the base
 * initramfs (cached per kernel/busybox/init), the app layer, and stores the result
 * content-addressed under `imagesDir`.
 */
export async function buildImage (init: BuildImageInit, components: { logger: Logger }): Promise<BuiltImage> {
  const log = components.logger.child({ component: 'image-build' })
  const progress = init.onProgress ?? (() => {})
  const cacheDir = resolvePath(init.cacheDir ?? defaultCacheDir())
  const appDir = resolvePath(init.appDir)
  const started = Date.now()
  await checkAppDir(appDir)

  const distribution = await obtainGuestParts({ cacheDir, onProgress: progress }, { logger: log })
  const { kind, parts } = await chooseKernel({ choice: init.kernel ?? 'auto', cacheDir, parts: distribution, progress }, log)

  progress({ step: 'base-initramfs', detail: `${parts.kernelVersion}, busybox ${parts.busyboxVersion}` })
  const base = await buildBaseInitramfs(parts, { cacheDir, compress: kind !== 'minimal-pvh' })
  progress({ step: 'base-initramfs', detail: `${base.cached ? 'cached' : 'built'} (${base.sizeBytes} bytes)`, done: base.sizeBytes, total: base.sizeBytes })

  progress({ step: 'pack-app', detail: appDir })
  const app = await packAppLayer(appDir, { cacheDir, ...(init.runtime === undefined ? {} : { runtime: init.runtime }) })
  progress({ step: 'pack-app', detail: `${app.entries.length} entries, ${app.contentBytes} bytes → ${app.data.length} bytes`, done: app.data.length, total: app.data.length })

  progress({ step: 'store', detail: init.imagesDir })
  const store = createImageStore({ imagesDir: resolvePath(init.imagesDir) }, { logger: log })
  const stored = await store.put({
    kernel: parts.vmlinuz,
    initrdLayers: [await readFile(base.path), app.data],
    appEntries: app.entries,
    kernelVersion: parts.kernelVersion,
    kernelKind: kind,
    modules: parts.modules.map(m => m.name),
    ...(init.name === undefined ? {} : { name: init.name })
  })
  progress({ step: 'store', detail: `${stored.digest}${stored.reused ? ' (already stored)' : ''}`, done: stored.sizeBytes, total: stored.sizeBytes })
  log.info({ digest: stored.digest, name: stored.name, kernel: kind, ms: Date.now() - started, reused: stored.reused, baseCached: base.cached }, 'image built')
  return stored
}

export type { StoredImage }
