import { rm, stat } from 'node:fs/promises'
import type { Logger } from '../log/logger.js'
import { VmmError } from '../errors/errors.js'
import type { ExitInfo, RuntimeRecord, VmHandle, VmStatus } from './driver.js'
import { shellQuote } from './qemu-args.js'
import { readExitMarker } from './qemu-console.js'
import type { QmpClient, QmpEvent } from './qmp-client.js'
import { isSameProcess } from './proc-info.js'
import { describeStatus, migrationInProgress, runOf, type QemuStatusWords } from './qemu-status.js'
import { discardSnapshot, snapshotComplete, snapshotTmpPath } from './snapshot-file.js'

const STOP_TIMEOUT_MS = 10_000
const QUIT_TIMEOUT_MS = 2_000
const GONE_POLL_MS = 100
/** After the process is gone, how long to wait for the QMP socket to drain (a SHUTDOWN event in flight). */
const QMP_DRAIN_MS = 1_000
const MIGRATE_TIMEOUT_MS = 120_000
const MIGRATE_POLL_MS = 20
/** After QEMU says a migration completed, how long its writer may take to put the snapshot in place. */
const SNAPSHOT_SETTLE_MS = 5_000
/** Snapshots are written locally: don't let QEMU's default migration throttle slow them. */
const MIGRATE_MAX_BANDWIDTH = 16 * 1024 * 1024 * 1024

/** Points inside `suspend` where a test can hold it (see {@link QemuHandleInit.suspendFault}). */
export type SuspendPhase = 'paused' | 'migrating'

/** How the VMM process ended, as far as this agent can know. */
export interface ProcessEnd {
  code: number | null
  signal: string | null
}

export interface QemuHandleInit {
  record: RuntimeRecord
  qmp: QmpClient
  /** The QEMU process's end, when it is this agent's child; adopted VMs are watched through /proc. */
  childExit?: Promise<ProcessEnd>
  /**
   * Makes the (unref'd) child hold the event loop: called once QMP is gone, so its 'exit' is
   * still seen when nothing else keeps the loop running.
   */
  holdChild?: (hold: boolean) => void
  consoleLog: string
  /** Size of the console log when this boot started: the exit marker is looked for after it. */
  consoleOffset: number
  stopTimeoutMs?: number
  /** Runs once the VM is gone, before `exited` resolves (e.g. removes its network namespace). */
  cleanup?: () => Promise<void>
  /**
   * Tests only (agents started with ROOST_ENABLE_FAULTS=1): awaited at each phase of `suspend`,
   * so a test can hold a suspend there and kill the agent inside it.
   */
  suspendFault?: (phase: SuspendPhase, snapshotPath: string) => Promise<void>
}

export interface QemuHandleComponents {
  logger: Logger
}

async function within (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>(resolve => { timer = setTimeout(() => resolve(false), ms) })
  try {
    return await Promise.race([p.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/**
 * A running QEMU: watches for its end (child 'exit', or QMP closing plus /proc for an adopted
 * one), says why it ended, and stops, kills or suspends it.
 */
export function createQemuHandle (init: QemuHandleInit, components: QemuHandleComponents): VmHandle {
  const { record, qmp } = init
  const log = components.logger.child({ pid: record.pid })
  let requested = false
  let detached = false
  let gone = false
  let shutdown: { guest: boolean, reason: string } | undefined
  let stopping: Promise<ExitInfo> | undefined
  let pollTimer: NodeJS.Timeout | undefined
  let resolveExited!: (info: ExitInfo) => void
  const exited = new Promise<ExitInfo>(resolve => { resolveExited = resolve })

  const unsubscribe = qmp.onEvent((ev: QmpEvent) => {
    log.debug({ event: ev.event, data: ev.data }, 'QMP event')
    if (ev.event === 'SHUTDOWN') shutdown = { guest: ev.data.guest === true, reason: String(ev.data.reason ?? '') }
  })

  const classify = async (end: ProcessEnd): Promise<ExitInfo> => {
    const exitCode = await readExitMarker(init.consoleLog, init.consoleOffset).catch(() => null)
    const base = { exitCode, vmmExitCode: end.code, signal: end.signal }
    if (requested) return { reason: 'stopped', ...base }
    // A guest reset (reboot, or a panic with panic=-1) ends QEMU too (-no-reboot); without the
    // marker it is a crash, not the app's exit.
    if (shutdown?.guest === true && (shutdown.reason === 'guest-shutdown' || exitCode !== null)) return { reason: 'guest-exit', ...base }
    return { reason: 'crashed', ...base }
  }

  const onGone = async (end: ProcessEnd): Promise<void> => {
    if (gone || detached) return
    gone = true
    clearTimeout(pollTimer)
    await within(qmp.closed, QMP_DRAIN_MS)
    unsubscribe()
    qmp.close()
    const info = await classify(end)
    await init.cleanup?.().catch((err: unknown) => { log.warn({ err }, 'cleanup after qemu exit failed') })
    log.info({ ...info, qmpShutdown: shutdown }, 'qemu exited')
    resolveExited(info)
  }

  const alive = (): boolean => isSameProcess(record.pid, record.pidStartTicks)

  const watchProc = (): void => {
    if (gone || detached) return
    if (!alive()) {
      void onGone({ code: null, signal: null })
      return
    }
    pollTimer = setTimeout(watchProc, GONE_POLL_MS)
  }

  if (init.childExit !== undefined) {
    void init.childExit.then(onGone)
    void qmp.closed.then(() => { if (!gone && !detached) init.holdChild?.(true) })
  } else {
    // Not our child: no 'exit' event. QMP closes when QEMU dies; /proc says when it is gone.
    void qmp.closed.then(watchProc)
  }

  const sendKill = (): void => {
    if (gone) return
    // A pid we did not spawn may have been reused: only signal the process we know.
    if (init.childExit === undefined && !alive()) return
    try {
      process.kill(-record.pid, 'SIGKILL')
    } catch {
      try { process.kill(record.pid, 'SIGKILL') } catch {}
    }
  }

  const qmpTry = async (command: string): Promise<void> => {
    try {
      await qmp.execute(command, undefined, { timeoutMs: 2_000 })
    } catch (err) {
      log.debug({ err, command }, 'QMP command failed during stop')
    }
  }

  const kill = async (): Promise<ExitInfo> => {
    requested = true
    sendKill()
    return await exited
  }

  const stop = async (opts: { timeoutMs?: number, signal?: string } = {}): Promise<ExitInfo> => {
    if (gone) return await exited
    if (opts.signal === 'SIGKILL') return await kill()
    stopping ??= (async () => {
      requested = true
      await qmpTry('system_powerdown')
      if (await within(exited, opts.timeoutMs ?? init.stopTimeoutMs ?? STOP_TIMEOUT_MS)) return await exited
      log.warn('guest did not power off in time; quitting qemu')
      await qmpTry('quit')
      if (await within(exited, QUIT_TIMEOUT_MS)) return await exited
      log.warn('qemu did not quit; killing it')
      return await kill()
    })()
    return await stopping
  }

  const suspend = async (snapshotPath: string): Promise<void> => {
    if (gone || stopping !== undefined) throw new VmmError('cannot suspend: the VM is stopping or gone', { pid: record.pid })
    const tmp = snapshotTmpPath(snapshotPath)
    const t0 = Date.now()
    await discardSnapshot(snapshotPath)
    requested = true
    try {
      await qmp.execute('stop')
      await init.suspendFault?.('paused', snapshotPath)
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MIGRATE_MAX_BANDWIDTH }).catch((err: unknown) => {
        log.debug({ err }, 'could not raise the migration bandwidth')
      })
      // cat exits only once everything is on disk: the rename makes the snapshot appear whole.
      await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(tmp)} && mv -f ${shellQuote(tmp)} ${shellQuote(snapshotPath)}` })
      await init.suspendFault?.('migrating', snapshotPath)
      const deadline = Date.now() + MIGRATE_TIMEOUT_MS
      for (;;) {
        const st = await qmp.execute<{ status?: string, 'error-desc'?: string }>('query-migrate')
        if (st.status === 'completed' && await exists(snapshotPath)) break
        if (st.status === 'failed' || st.status === 'cancelled') throw new VmmError(`snapshot failed: ${st['error-desc'] ?? st.status}`)
        if (Date.now() > deadline) throw new VmmError(`snapshot not written within ${MIGRATE_TIMEOUT_MS} ms`, { status: st.status })
        await new Promise(resolve => setTimeout(resolve, MIGRATE_POLL_MS))
      }
    } catch (err) {
      requested = false
      await qmpTry('cont')
      await rm(tmp, { force: true })
      throw err instanceof VmmError ? err : new VmmError(`snapshot failed: ${(err as Error).message}`)
    }
    log.info({ snapshotPath, ms: Date.now() - t0 }, 'snapshot written')
    await qmpTry('quit')
    if (!await within(exited, QUIT_TIMEOUT_MS)) sendKill()
    await exited
  }

  const status = async (opts: { snapshotPath?: string } = {}): Promise<VmStatus> => {
    if (gone) throw new VmmError('the VM is gone', { pid: record.pid })
    const deadline = Date.now() + MIGRATE_TIMEOUT_MS
    for (;;) {
      const st = await qmp.execute<{ status?: string, running?: boolean }>('query-status')
      const mig = await qmp.execute<{ status?: string }>('query-migrate')
      const words: QemuStatusWords = { status: st.status ?? 'unknown', running: st.running === true, migration: mig.status ?? 'none' }
      if (!migrationInProgress(words) || Date.now() > deadline) {
        const snapshot = opts.snapshotPath !== undefined && words.migration === 'completed' && await snapshotComplete(opts.snapshotPath, SNAPSHOT_SETTLE_MS)
        return { run: runOf(words), detail: describeStatus(words), snapshot }
      }
      await new Promise(resolve => setTimeout(resolve, MIGRATE_POLL_MS))
    }
  }

  const unpause = async (): Promise<void> => {
    await qmp.execute('cont')
    requested = false
  }

  const detach = (): void => {
    if (detached) return
    detached = true
    clearTimeout(pollTimer)
    unsubscribe()
    init.holdChild?.(false)
    // QEMU's QMP server takes one client at a time: let the next agent in.
    qmp.close()
  }

  return { record, exited, stop, kill, suspend, detach, status, unpause }
}
