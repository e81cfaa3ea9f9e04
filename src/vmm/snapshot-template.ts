import { copyFile, appendFile, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../log/logger.js'
import type { KernelKind } from './image/manifest.js'
import { VmmError } from '../errors/errors.js'
import { openIdentityChannel } from './clone-channel.js'
import { cloneTemplateLayer } from './clone-guest.js'
import { guestMemoryArgs, identitySerialArgs, IGNORE_SHARED } from './clone-qemu-args.js'
import { allocatePort } from './ports.js'
import { buildQemuArgs, shellQuote, type QemuAccel } from './qemu-args.js'
import { readTail } from './qemu-console.js'
import { spawnQemu } from './qemu-spawn.js'

const READY_TIMEOUT_MS = 120_000
const MIGRATE_TIMEOUT_MS = 60_000
const POLL_MS = 10
const QUIT_WAIT_MS = 5_000

/** The files of a warm snapshot, in one directory. */
export const SNAPSHOT_FILES = { state: 'state.bin', ram: 'ram.img', meta: 'meta.json' } as const

export interface TemplateInit {
  qemuPath: string
  accel: QemuAccel
  kernel: string
  /** The image's kernel kind (ImageManifest.kernelKind). */
  kernelKind?: KernelKind
  /** The image's initrd (the clone layer is appended to a copy). */
  imageInitrd: string
  cpus: number
  memoryMb: number
  tscKhz: number | null
  /** Where state.bin and ram.img are written (exists, empty). */
  outDir: string
}

/**
 * Boots a template VM of an image, waits until its init blocks for an identity (clone-guest.ts),
 * pauses it and writes its device state with `x-ignore-shared` (its RAM is already in
 * `ram.img`, mapped shared), then quits it. Clones map `ram.img` privately and load `state.bin`.
 */
export async function bootTemplate (init: TemplateInit, components: { logger: Logger }): Promise<{ bootMs: number, saveMs: number }> {
  const log = components.logger
  const work = await mkdtemp(join(tmpdir(), 'roost-tpl-'))
  const t0 = Date.now()
  try {
    const initrd = join(work, 'initrd.img')
    await copyFile(init.imageInitrd, initrd)
    await appendFile(initrd, cloneTemplateLayer())
    const qmpSocket = join(work, 'qmp.sock')
    const idSocket = join(work, 'id.sock')
    const args = [
      ...buildQemuArgs({
        accel: init.accel,
        cpus: init.cpus,
        memoryMb: init.memoryMb,
        kernel: init.kernel,
        initrd,
        consoleLog: join(work, 'console.log'),
        qmpSocket,
        tscKhz: init.tscKhz,
        ...(init.kernelKind === undefined ? {} : { kernelKind: init.kernelKind }),
        // The NIC must exist (clones have one); the template's is never used.
        net: { mode: 'user', hostPort: await allocatePort(), guestPort: 1 }
      }),
      ...identitySerialArgs(idSocket),
      ...guestMemoryArgs(init.memoryMb, { kind: 'template', path: join(init.outDir, SNAPSHOT_FILES.ram) })
    ]
    const q = await spawnQemu({ qemuPath: init.qemuPath, args, qemuLog: join(work, 'qemu.log'), qmpSocket, machineId: 'snapshot-template' }, { logger: log })
    const ac = new AbortController()
    void q.childExit.then(() => { ac.abort() })
    try {
      const channel = await openIdentityChannel(idSocket, ac.signal)
      try {
        await channel.waitReady(READY_TIMEOUT_MS)
      } finally {
        channel.close()
      }
      const bootMs = Date.now() - t0
      const t1 = Date.now()
      await q.qmp.execute('stop')
      await q.qmp.execute('migrate-set-capabilities', IGNORE_SHARED)
      const state = join(init.outDir, SNAPSHOT_FILES.state)
      await q.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(state)}` })
      const deadline = Date.now() + MIGRATE_TIMEOUT_MS
      for (;;) {
        const st = await q.qmp.execute<{ status?: string, 'error-desc'?: string }>('query-migrate')
        if (st.status === 'completed') break
        if (st.status === 'failed' || st.status === 'cancelled') throw new VmmError(`template snapshot failed: ${st['error-desc'] ?? st.status}`)
        if (Date.now() > deadline) throw new VmmError(`template snapshot not written within ${MIGRATE_TIMEOUT_MS} ms`)
        await new Promise(resolve => setTimeout(resolve, POLL_MS))
      }
      await q.qmp.execute('quit').catch(() => {})
      const gone = await Promise.race([q.childExit.then(() => true), new Promise<boolean>(resolve => setTimeout(() => resolve(false), QUIT_WAIT_MS))])
      if (!gone) throw new VmmError('the template VM did not quit after its snapshot')
      if ((await stat(state)).size === 0) throw new VmmError('the template snapshot is empty')
      log.info({ bootMs, saveMs: Date.now() - t1 }, 'warm snapshot template saved')
      return { bootMs, saveMs: Date.now() - t1 }
    } catch (err) {
      q.qmp.close()
      const tail = await readTail(join(work, 'console.log'), 2048).catch(() => '')
      return await q.fail(`snapshot template failed (${(err as Error).message}); guest console: ${tail.trim().split('\n').slice(-8).join(' | ')}`, err)
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
