import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import type { BuildProgress, KernelChoice } from '../../vmm/image/build.js'
import { InvalidArgumentError } from '../../errors/errors.js'
import { isCI } from '../ci-env.js'
import { defaultDataDir } from '../config.js'
import { ago, printJson, printTable, reportError } from '../output.js'
import { registerImageSnapshotCommand } from './image-snapshot.js'

interface StoreOptions {
  dataDir: string
  imagesDir?: string
  json?: boolean
}

function imagesDirOf (opts: StoreOptions): string {
  return resolve(opts.imagesDir ?? join(opts.dataDir, 'images'))
}

const KERNEL_CHOICES: KernelChoice[] = ['auto', 'minimal', 'distribution']

function mb (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

/**
 * Progress on stderr: one line rewritten in place on a terminal; elsewhere a plain line per
 * step or detail (byte counts alone don't make a new line).
 */
export function progressPrinter (stream: NodeJS.WriteStream): { onProgress: (p: BuildProgress) => void, end: () => void } {
  const tty = stream.isTTY === true
  let last = ''
  let lastDrawn = 0
  return {
    onProgress: (p) => {
      const partial = p.done !== undefined && p.total !== undefined && p.total > 0 && p.done < p.total
      const amount = (n: number): string => (p.step === 'kernel-compile' ? String(n) : mb(n))
      const bytes = partial ? ` ${amount(p.done ?? 0)}/${amount(p.total ?? 0)} (${Math.floor(((p.done ?? 0) / (p.total ?? 1)) * 100)}%)` : ''
      const line = `${p.step}: ${p.detail}`
      if (tty) {
        const now = Date.now()
        if (line === last && now - lastDrawn < 100) return
        last = line
        lastDrawn = now
        const width = Math.max(20, (stream.columns ?? 80) - 1)
        stream.write(`\r\x1b[2K${(line + bytes).slice(0, width)}`)
      } else {
        // Compile progress (a unit a second) would flood a log: one line per 10 % there.
        const key = p.step === 'kernel-compile' && partial ? `${p.step}: ${Math.floor(((p.done ?? 0) / (p.total ?? 1)) * 10) * 10}%` : line
        if (key === last) return
        last = key
        stream.write(`${p.step === 'kernel-compile' && partial ? `${key} (${p.detail})` : line}\n`)
      }
    },
    end: () => { if (tty && last !== '') stream.write('\r\x1b[2K') }
  }
}

/** `roost image build|list|rm`: guest images in the local content-addressed store. */
export function registerImageCommand (program: Command): void {
  const image = program.command('image').description('build and list guest images (a kernel, an initramfs and your app dir)')

  image.command('build <dir>')
    .description('build an image from an app directory holding an executable `run` (it listens on $PORT)')
    .option('--name <name>', 'a name to refer to the image by (the newest build wins)')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--images-dir <dir>', 'image store (default: <data-dir>/images)')
    .option('--cache-dir <dir>', 'download and base-initramfs cache (default: $ROOST_CACHE_DIR or ~/.cache/roost)')
    .option('--kernel <kind>', 'auto (minimal where it can be built here), minimal, or distribution (Debian\'s cloud kernel)', 'auto')
    .option('--json', 'print the manifest as JSON')
    .action(async (dir: string, opts: StoreOptions & { name?: string, cacheDir?: string, kernel: string }) => {
      const progress = progressPrinter(process.stderr)
      try {
        const [{ buildImage }, { createLogger }] = await Promise.all([import('../../vmm/image/build.js'), import('../../log/logger.js')])
        const logger = createLogger({ level: process.env.ROOST_LOG_LEVEL ?? 'warn' })
        if (!KERNEL_CHOICES.includes(opts.kernel as KernelChoice)) throw new InvalidArgumentError(`--kernel must be one of ${KERNEL_CHOICES.join(', ')}`)
        const started = Date.now()
        const built = await buildImage({
          kernel: opts.kernel as KernelChoice,
          appDir: dir,
          imagesDir: imagesDirOf(opts),
          ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }),
          ...(opts.name === undefined ? {} : { name: opts.name }),
          onProgress: progress.onProgress
        }, { logger })
        progress.end()
        process.stderr.write(`built ${built.name ?? built.digest.slice(0, 12)} in ${Date.now() - started} ms (${mb(built.sizeBytes)}${built.reused ? ', already stored' : ''}): ${built.dir}\n`)
        if (opts.json === true) printJson(built)
        else process.stdout.write(`${built.digest}\n`)
      } catch (err) {
        progress.end()
        process.exitCode = reportError(err, opts.json === true)
      }
    })

  image.command('kernel')
    .description('build the minimal guest kernel (once per machine: ~4 min on 2 idle cores) and print where it is')
    .option('--force', 'rebuild even when it is cached')
    .option('--cache-dir <dir>', 'kernel cache (default: $ROOST_CACHE_DIR or ~/.cache/roost)')
    .option('--json', 'print the kernel\'s paths and key as JSON')
    .option('--if-possible', 'where the build tools are missing, say so and succeed (images then use Debian\'s kernel); under CI (any truthy CI) that is still a failure')
    .action(async (opts: { force?: boolean, cacheDir?: string, json?: boolean, ifPossible?: boolean }) => {
      const progress = progressPrinter(process.stderr)
      try {
        const [{ ensureGuestKernel, missingKernelBuildTools, KERNEL_BUILD_PACKAGES }, { createLogger }] = await Promise.all([import('../../vmm/image/kernel-build.js'), import('../../log/logger.js')])
        if (opts.ifPossible === true && !isCI()) {
          const missing = await missingKernelBuildTools()
          if (missing.length > 0) {
            process.stderr.write(`minimal guest kernel not built: missing ${missing.join(', ')} (apt-get install ${KERNEL_BUILD_PACKAGES.join(' ')}); images use Debian's kernel\n`)
            return
          }
        }
        const logger = createLogger({ level: process.env.ROOST_LOG_LEVEL ?? 'warn' })
        const started = Date.now()
        const k = await ensureGuestKernel({
          force: opts.force === true,
          ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }),
          onProgress: progress.onProgress
        }, { logger })
        progress.end()
        process.stderr.write(`kernel ${k.version} (${k.key.slice(0, 12)}) ${k.cached ? 'cached' : `built in ${Math.round((Date.now() - started) / 1000)} s`}: ${k.dir}\n`)
        if (opts.json === true) printJson(k)
        else process.stdout.write(`${k.vmlinux}\n`)
      } catch (err) {
        progress.end()
        process.exitCode = reportError(err, opts.json === true)
      }
    })

  registerImageSnapshotCommand(image)

  image.command('list')
    .description('list the images in the store, newest first')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--images-dir <dir>', 'image store (default: <data-dir>/images)')
    .option('--json', 'print JSON')
    .action(async (opts: StoreOptions) => {
      try {
        const [{ createImageStore }, { silentLogger }] = await Promise.all([import('../../vmm/image/image-store.js'), import('../../log/logger.js')])
        const images = await createImageStore({ imagesDir: imagesDirOf(opts) }, { logger: silentLogger() }).list()
        if (opts.json === true) {
          printJson(images)
          return
        }
        printTable(['DIGEST', 'NAMES', 'KERNEL', 'SIZE', 'CREATED'], images.map(i => [
          i.digest.slice(0, 12),
          i.names.join(',') || '-',
          `${i.kernelVersion}${i.kernelKind === 'minimal-pvh' ? ' (minimal)' : ''}`,
          mb(i.sizeBytes),
          ago(Date.parse(i.createdAt))
        ]))
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  image.command('rm <ref>')
    .description('remove an image (digest, sha256:<digest>, a prefix of ≥ 12 hex digits, or a name)')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--images-dir <dir>', 'image store (default: <data-dir>/images)')
    .option('--json', 'print the removed manifest as JSON')
    .action(async (ref: string, opts: StoreOptions) => {
      try {
        const [{ createImageStore }, { silentLogger }] = await Promise.all([import('../../vmm/image/image-store.js'), import('../../log/logger.js')])
        const removed = await createImageStore({ imagesDir: imagesDirOf(opts) }, { logger: silentLogger() }).remove(ref)
        if (opts.json === true) printJson(removed)
        else process.stdout.write(`${removed.digest}\n`)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
