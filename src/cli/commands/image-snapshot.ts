import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ConfigError } from '../../errors/errors.js'
import { defaultDataDir, parseIntOption } from '../config.js'
import { printJson, reportError } from '../output.js'

/** Guest memory of a machine that does not say (actors/machines/record.ts DEFAULT_MEMORY_MB). */
const DEFAULT_MEMORY_MB = 128

interface SnapshotOptions {
  dataDir: string
  imagesDir?: string
  memory?: string
  cpus: string
  json?: boolean
}

/**
 * `roost image snapshot <image>`: makes (or finds) the warm snapshot that machines of this image
 * started with `--from-snapshot` clone, so their first start does not pay for it. The snapshot
 * is per host, in the cache the agent's qemu driver uses ($ROOST_CACHE_DIR or ~/.cache/roost),
 * per CPU count and memory size: give the machines' --cpus/--memory if they are not the defaults.
 */
export function registerImageSnapshotCommand (image: Command): void {
  image.command('snapshot <ref>')
    .description('boot the image once and keep a warm snapshot of it, for machines run with --from-snapshot (qemu)')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--images-dir <dir>', 'image store (default: <data-dir>/images)')
    .option('--memory <MB>', 'guest memory of the machines that will clone it (default: as theirs: 128, or 320 for Node.js apps)')
    .option('--cpus <n>', 'virtual CPUs of the machines that will clone it', '1')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: SnapshotOptions) => {
      let dir: string | undefined
      try {
        const [{ createImageStore }, { createLogger }, { createQemuDriver, qemuAvailable }, { appRuntime, NODE_DEFAULT_MEMORY_MB }] = await Promise.all([
          import('../../vmm/image/image-store.js'), import('../../log/logger.js'), import('../../vmm/qemu-driver.js'), import('../../vmm/image/node-runtime.js')
        ])
        if (!(await qemuAvailable()).ok) throw new ConfigError('roost image snapshot needs qemu-system-x86_64')
        const logger = createLogger({ level: process.env.ROOST_LOG_LEVEL ?? 'warn' })
        const img = await createImageStore({ imagesDir: resolve(opts.imagesDir ?? join(opts.dataDir, 'images')) }, { logger }).resolve(ref)
        const node = await appRuntime(join(img.dir, img.app)).catch(() => null) === 'node'
        const memoryMb = opts.memory === undefined ? (node ? Math.max(DEFAULT_MEMORY_MB, NODE_DEFAULT_MEMORY_MB) : DEFAULT_MEMORY_MB) : parseIntOption(opts.memory, '--memory', 64)
        const driver = createQemuDriver({}, { logger })
        if (driver.warmSnapshot === undefined) throw new ConfigError('this qemu driver cannot make warm snapshots')
        dir = await mkdtemp(join(tmpdir(), 'roost-snapshot-'))
        const started = Date.now()
        const snap = await driver.warmSnapshot({
          machineId: 'snapshot',
          dir,
          image: img,
          imageDir: img.dir,
          cpus: parseIntOption(opts.cpus, '--cpus', 1),
          memoryMb,
          env: {},
          guestPort: 8080,
          network: { mode: 'forward', hostPort: 0 }
        })
        if (opts.json === true) printJson({ ...snap, image: img.digest, memoryMb })
        else process.stdout.write(`${snap.key} ${snap.cached ? 'cached' : `made in ${Date.now() - started} ms`}: ${snap.dir} (image ${img.digest.slice(0, 12)}, ${memoryMb} MB)\n`)
      } catch (err) {
        process.exitCode = reportError(err, opts.json === true)
      } finally {
        if (dir !== undefined) await rm(dir, { recursive: true, force: true })
      }
    })
}
