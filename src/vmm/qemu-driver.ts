import { execFile, execFileSync } from 'node:child_process'
import { rename, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Logger } from '../log/logger.js'
import { VmmError } from '../errors/errors.js'
import type { GuestSpec, RuntimeRecord, VmDriver, VmHandle, WarmSnapshotInfo } from './driver.js'
import { probeAccel } from './accel-probe.js'
import { cloneEnv, loadWarmSnapshot, sendCloneIdentity } from './clone-launch.js'
import { guestMemoryArgs, identitySerialArgs, templateSlirpArgs } from './clone-qemu-args.js'
import { hostCpuKhz } from './host-cpu.js'
import type { NetnsAllocator } from './netns.js'
import { buildQemuArgs, type QemuAccel } from './qemu-args.js'
import { fileSize, readTail } from './qemu-console.js'
import { createQemuHandle } from './qemu-handle.js'
import { guestEnv, writeMachineInitrd } from './qemu-initrd.js'
import { prepareQemuNetwork } from './qemu-network.js'
import { spawnQemu } from './qemu-spawn.js'
import { suspendFaultHook } from './suspend-fault.js'
import { connectQmp, type QmpClient } from './qmp-client.js'
import { isSameProcess } from './proc-info.js'
import { createSnapshotCache, fileStamp, type SnapshotKeyParts, type WarmSnapshot } from './snapshot-cache.js'

const QEMU_BINARY = 'qemu-system-x86_64'
const ADOPT_CONNECT_TIMEOUT_MS = 3_000
const INCOMING_TIMEOUT_MS = 60_000
const INCOMING_POLL_MS = 10
const LOG_TAIL_BYTES = 64 * 1024
/** A fresh boot rotates a console log past this size to console.log.1. */
const CONSOLE_ROTATE_BYTES = 4 * 1024 * 1024

export interface QemuDriverInit {
  /** Defaults to $ROOST_QEMU or `qemu-system-x86_64` on the PATH. */
  qemuPath?: string
  /** Where the accelerator decision is cached; defaults to $ROOST_CACHE_DIR or ~/.cache/roost. */
  cacheDir?: string
  /** `auto` (default) probes KVM with a real boot. $ROOST_QEMU_ACCEL overrides this. */
  accel?: 'auto' | QemuAccel
  /** Default time `stop` gives the guest to power off after the ACPI power button. */
  stopTimeoutMs?: number
  /** Tests only (ROOST_ENABLE_FAULTS=1): honour a machine's `fault-suspend` file (see suspend-fault.ts). */
  faults?: boolean
}

export interface QemuDriverComponents {
  logger: Logger
  /** Needed for `network: { mode: 'namespace' }` (root only). */
  netns?: NetnsAllocator
}

/** Whether QEMU (x86_64 system emulator) can be run here, and which version. */
export async function qemuAvailable (qemuPath = process.env.ROOST_QEMU ?? QEMU_BINARY): Promise<{ ok: boolean, path?: string, version?: string }> {
  try {
    const { stdout } = await promisify(execFile)(qemuPath, ['--version'], { timeout: 10_000 })
    const version = /version\s+(\S+)/.exec(stdout)?.[1]
    return version === undefined ? { ok: true, path: qemuPath } : { ok: true, path: qemuPath, version }
  } catch {
    return { ok: false }
  }
}

function envAccel (): QemuAccel | undefined {
  const v = process.env.ROOST_QEMU_ACCEL
  return v === 'kvm' || v === 'tcg' ? v : undefined
}

function killGroup (pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

/** Waits for an incoming migration to land, then runs the guest (it arrives paused). */
async function finishIncoming (qmp: QmpClient): Promise<void> {
  const deadline = Date.now() + INCOMING_TIMEOUT_MS
  for (;;) {
    const st = await qmp.execute<{ status: string }>('query-status')
    if (st.status === 'running') return
    if (st.status === 'paused' || st.status === 'postmigrate' || st.status === 'prelaunch') {
      await qmp.execute('cont')
      return
    }
    if (st.status !== 'inmigrate') throw new VmmError(`resume failed: the VM is ${st.status}`)
    if (Date.now() > deadline) throw new VmmError(`snapshot not loaded within ${INCOMING_TIMEOUT_MS} ms`)
    await new Promise(resolve => setTimeout(resolve, INCOMING_POLL_MS))
  }
}

/** The qemu microvm driver: one QEMU process per machine, detached so it outlives the agent. */
export function createQemuDriver (init: QemuDriverInit, components: QemuDriverComponents): VmDriver {
  const log = components.logger.child({ driver: 'qemu' })
  const qemuPath = init.qemuPath ?? process.env.ROOST_QEMU ?? QEMU_BINARY
  const cacheDir = init.cacheDir ?? process.env.ROOST_CACHE_DIR ?? join(homedir(), '.cache', 'roost')
  const fixedAccel = envAccel() ?? (init.accel === 'kvm' || init.accel === 'tcg' ? init.accel : undefined)
  const accelByKernel = new Map<string, Promise<QemuAccel>>()
  let lastAccel: QemuAccel | undefined = fixedAccel
  let version: string | undefined

  const qemuVersion = (): string => {
    if (version !== undefined) return version
    try {
      const out = execFileSync(qemuPath, ['--version'], { encoding: 'utf8', timeout: 10_000 })
      version = /version\s+(\S+)/.exec(out)?.[1] ?? out.split('\n')[0] ?? 'unknown'
    } catch {
      version = 'unknown'
    }
    return version
  }

  const accelFor = async (kernel: string): Promise<QemuAccel> => {
    if (fixedAccel !== undefined) return fixedAccel
    let p = accelByKernel.get(kernel)
    if (p === undefined) {
      p = probeAccel({ qemuPath, qemuVersion: qemuVersion(), kernel, cacheDir }, { logger: log }).then((d) => {
        log.info({ accel: d.accel, detail: d.detail, cached: d.cached, kernel }, 'accelerator chosen')
        return d.accel
      })
      accelByKernel.set(kernel, p)
      p.catch(() => accelByKernel.delete(kernel))
    }
    lastAccel = await p
    return lastAccel
  }

  const paths = (spec: GuestSpec): { consoleLog: string, qmpSocket: string, qemuLog: string, idSocket: string } => ({
    consoleLog: join(spec.dir, 'console.log'),
    qmpSocket: join(spec.dir, 'qmp.sock'),
    qemuLog: join(spec.dir, 'qemu.log'),
    idSocket: join(spec.dir, 'id.sock')
  })

  const snapshots = createSnapshotCache({ cacheDir }, { logger: log })
  const suspendFault = init.faults === true ? { suspendFault: suspendFaultHook({ logger: log }) } : {}

  /** The warm snapshot a clone of `spec` boots from: found in the cache or built now. */
  const warmSnapshotFor = async (spec: GuestSpec, kernel: string, accel: QemuAccel): Promise<WarmSnapshot> => {
    const parts: SnapshotKeyParts = {
      imageDigest: spec.image.digest,
      kernel,
      kernelStamp: await fileStamp(kernel),
      cpus: spec.cpus,
      memoryMb: spec.memoryMb,
      accel,
      qemuVersion: qemuVersion()
    }
    return await snapshots.ensure(parts, {
      qemuPath,
      accel,
      kernel,
      ...(spec.image.kernelKind === undefined ? {} : { kernelKind: spec.image.kernelKind }),
      imageInitrd: join(spec.imageDir, spec.image.initrd),
      cpus: spec.cpus,
      memoryMb: spec.memoryMb,
      tscKhz: hostCpuKhz()
    })
  }

  const launch = async (spec: GuestSpec, snapshotPath?: string, clone = false): Promise<VmHandle> => {
    const t0 = Date.now()
    const { consoleLog, qmpSocket, qemuLog, idSocket } = paths(spec)
    if (snapshotPath !== undefined) {
      if (spec.network.mode === 'namespace') throw new VmmError('resume with namespace networking is not supported by the qemu driver: the guest keeps its old address', { machineId: spec.machineId })
      await stat(snapshotPath).catch(() => { throw new VmmError(`snapshot ${snapshotPath} not found`, { machineId: spec.machineId }) })
    } else if (await fileSize(consoleLog) > CONSOLE_ROTATE_BYTES) {
      await rename(consoleLog, `${consoleLog}.1`)
    }
    const kernel = join(spec.imageDir, spec.image.kernel)
    const accel = await accelFor(kernel)
    const warm = clone ? await warmSnapshotFor(spec, kernel, accel) : undefined
    const network = await prepareQemuNetwork(spec, components.netns)
    try {
      const env = guestEnv(spec, network.guest)
      // A clone's initrd is never read by its guest (its memory comes from the template).
      const initrd = warm === undefined ? await writeMachineInitrd(spec, env) : join(spec.imageDir, spec.image.initrd)
      const consoleOffset = await fileSize(consoleLog)
      const args = [...buildQemuArgs({
        accel,
        cpus: spec.cpus,
        memoryMb: spec.memoryMb,
        kernel,
        initrd,
        consoleLog,
        qmpSocket,
        tscKhz: hostCpuKhz(),
        net: network.net,
        ...(spec.image.kernelKind === undefined ? {} : { kernelKind: spec.image.kernelKind }),
        ...(snapshotPath === undefined ? {} : { incomingSnapshot: snapshotPath })
      }),
      ...identitySerialArgs(idSocket),
      ...guestMemoryArgs(spec.memoryMb, warm === undefined ? { kind: 'ram' } : { kind: 'clone', path: warm.ramPath }),
      ...(warm === undefined ? [] : ['-incoming', 'defer']),
      ...(warm !== undefined && network.net.mode === 'tap' ? templateSlirpArgs() : [])]
      const q = await spawnQemu({ qemuPath, args, qemuLog, qmpSocket, machineId: spec.machineId, ...(network.wrapper === undefined ? {} : { wrapper: network.wrapper }) }, { logger: log })
      const record: RuntimeRecord = {
        driver: 'qemu',
        pid: q.pid,
        pidStartTicks: q.startTicks,
        endpoint: network.endpoint,
        qmpSocket,
        ...(network.netns === undefined ? {} : { netns: network.netns }),
        extra: {
          accel,
          consoleOffset,
          qemuVersion: qemuVersion(),
          boot: warm !== undefined ? 'clone' : snapshotPath !== undefined ? 'resume' : 'cold',
          ...(warm === undefined ? {} : { snapshot: warm.key, snapshotBuilt: !warm.cached })
        }
      }
      if (snapshotPath !== undefined) {
        try {
          await finishIncoming(q.qmp)
        } catch (err) {
          q.qmp.close()
          return await q.fail('could not resume from the snapshot', err)
        }
      }
      if (warm !== undefined) {
        const gone = new AbortController()
        void q.childExit.then(() => { gone.abort() })
        const phases: Record<string, number> = { spawned: Date.now() - t0 }
        try {
          await loadWarmSnapshot(q.qmp, warm.statePath).catch(async (err: unknown) => {
            // A snapshot this QEMU cannot load is dropped: the next clone makes a new one.
            await snapshots.remove(warm.key)
            throw err
          })
          phases.loaded = Date.now() - t0
          await sendCloneIdentity(idSocket, cloneEnv(env, network.net), gone.signal)
          phases.identified = Date.now() - t0
        } catch (err) {
          q.qmp.close()
          return await q.fail(`could not start from the warm snapshot ${warm.key}`, err)
        }
        if (record.extra !== undefined) record.extra.cloneMs = phases
      }
      const handle = createQemuHandle({
        record,
        qmp: q.qmp,
        childExit: q.childExit,
        holdChild: (hold) => { if (hold) q.child.ref(); else q.child.unref() },
        consoleLog,
        consoleOffset,
        stopTimeoutMs: init.stopTimeoutMs,
        cleanup: network.release,
        ...suspendFault
      }, { logger: log.child({ machineId: spec.machineId }) })
      log.info({ machineId: spec.machineId, pid: q.pid, accel, endpoint: network.endpoint, resumed: snapshotPath !== undefined, clone: warm?.key }, 'qemu started')
      return handle
    } catch (err) {
      await network.release().catch((e: unknown) => { log.warn({ err: e }, 'could not release the network of a failed VM') })
      throw err
    }
  }

  const adopt = async (spec: GuestSpec, record: RuntimeRecord): Promise<VmHandle | null> => {
    if (record.driver !== 'qemu') return null
    const releaseNetns = async (): Promise<void> => {
      if (record.netns !== undefined && components.netns !== undefined) await components.netns.remove(record.netns)
    }
    if (!isSameProcess(record.pid, record.pidStartTicks)) {
      await releaseNetns().catch((err: unknown) => { log.warn({ err, netns: record.netns }, 'could not remove the namespace of a gone VM') })
      return null
    }
    const { consoleLog } = paths(spec)
    const qmpSocket = record.qmpSocket ?? paths(spec).qmpSocket
    let qmp: QmpClient
    try {
      // QEMU made its socket long ago: a missing one will not appear.
      await stat(qmpSocket)
      qmp = await connectQmp({ socketPath: qmpSocket, connectTimeoutMs: ADOPT_CONNECT_TIMEOUT_MS }, { logger: log })
    } catch (err) {
      log.warn({ err, machineId: spec.machineId, pid: record.pid }, 'VM process alive but its QMP is dead: killing it')
      if (isSameProcess(record.pid, record.pidStartTicks)) killGroup(record.pid)
      await releaseNetns().catch(() => {})
      return null
    }
    const offset = record.extra?.consoleOffset
    const handle = createQemuHandle({
      record,
      qmp,
      consoleLog,
      consoleOffset: typeof offset === 'number' ? offset : 0,
      stopTimeoutMs: init.stopTimeoutMs,
      cleanup: releaseNetns,
      ...suspendFault
    }, { logger: log.child({ machineId: spec.machineId }) })
    log.info({ machineId: spec.machineId, pid: record.pid }, 'qemu adopted')
    return handle
  }

  return {
    kind: 'qemu',
    describe: () => `qemu ${qemuVersion()} microvm, accel ${lastAccel ?? 'auto (probed at first boot)'}`,
    start: async (spec) => await launch(spec),
    resume: async (spec, snapshotPath) => await launch(spec, snapshotPath),
    clone: async (spec) => await launch(spec, undefined, true),
    warmSnapshot: async (spec): Promise<WarmSnapshotInfo> => {
      const kernel = join(spec.imageDir, spec.image.kernel)
      const w = await warmSnapshotFor(spec, kernel, await accelFor(kernel))
      return { key: w.key, dir: w.dir, cached: w.cached, createdAt: w.createdAt, ...(w.buildMs === undefined ? {} : { buildMs: w.buildMs }) }
    },
    adopt,
    logs: async (spec, maxBytes = LOG_TAIL_BYTES) => await readTail(paths(spec).consoleLog, maxBytes)
  }
}
