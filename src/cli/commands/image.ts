import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import type { BuildProgress } from '../../vmm/image/build.js'
import { defaultDataDir } from '../config.js'
import { ago, printJson, printTable, reportError } from '../output.js'

interface StoreOptions {
  dataDir: string
  imagesDir?: string
  json?: boolean
}

function imagesDirOf (opts: StoreOptions): string {
  return resolve(opts.imagesDir ?? join(opts.dataDir, 'images'))
}

function mb (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

/**
 * Progress on stderr: one line rewritten in place on a terminal; elsewhere a plain line per
 * step or detail (byte counts alone don't make a new line).
 */
function progressPrinter (stream: NodeJS.WriteStream): { onProgress: (p: BuildProgress) => void, end: () => void } {
  const tty = stream.isTTY === true
  let last = ''
  let lastDrawn = 0
  return {
    onProgress: (p) => {
      const bytes = p.done !== undefined && p.total !== undefined && p.total > 0 && p.done < p.total
        ? ` ${mb(p.done)}/${mb(p.total)} (${Math.floor((p.done / p.total) * 100)}%)`
        : ''
      const line = `${p.step}: ${p.detail}`
      if (tty) {
        const now = Date.now()
        if (line === last && now - lastDrawn < 100) return
        last = line
        lastDrawn = now
        const width = Math.max(20, (stream.columns ?? 80) - 1)
        stream.write(`\r\x1b[2K${(line + bytes).slice(0, width)}`)
      } else if (line !== last) {
        last = line
        stream.write(`${line}\n`)
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
    .option('--json', 'print the manifest as JSON')
    .action(async (dir: string, opts: StoreOptions & { name?: string, cacheDir?: string }) => {
      const progress = progressPrinter(process.stderr)
      try {
        const [{ buildImage }, { createLogger }] = await Promise.all([import('../../vmm/image/build.js'), import('../../log/logger.js')])
        const logger = createLogger({ level: process.env.ROOST_LOG_LEVEL ?? 'warn' })
        const started = Date.now()
        const built = await buildImage({
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
          i.kernelVersion,
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
