import type { ChildProcess } from 'node:child_process'
import { open } from 'node:fs/promises'
import { constants } from 'node:os'
import { InvalidArgumentError, VmmError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { ExitInfo, RuntimeRecord, VmHandle } from './driver.js'
import { EXIT_MARKER } from './image/manifest.js'
import { isSameProcess } from './proc-info.js'
import { liveGroupMembers } from './proc-tree.js'

export const PROCESS_STOP_TIMEOUT_MS = 10_000
export const PROCESS_POLL_MS = 200
const GROUP_GONE_TIMEOUT_MS = 2_000

export interface ProcessHandleInit {
  record: RuntimeRecord
  /** Set when the app is this agent's child (its exit code is then known); adopted apps are watched through /proc. */
  child?: ChildProcess
  /** Where the app's output goes; the `roost-exit: N` marker is appended when the exit code is known. */
  consoleLog: string
  /** Runs once the app is gone, before `exited` resolves (e.g. removes its namespace). */
  cleanup?: () => Promise<void>
  stopTimeoutMs?: number
  pollIntervalMs?: number
}

async function within (p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([p.then(() => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Appends `line`, on a line of its own even when the app's output did not end with a newline. */
async function appendMarker (path: string, line: string): Promise<void> {
  const fh = await open(path, 'a+')
  try {
    const { size } = await fh.stat()
    const last = Buffer.alloc(1)
    if (size > 0) await fh.read(last, 0, 1, size - 1)
    await fh.appendFile(size > 0 && last[0] !== 0x0a ? `\n${line}` : line)
  } finally {
    await fh.close()
  }
}

/** Bounded: a member stuck in uninterruptible sleep must not hold `exited` forever. */
async function waitGroupGone (pgid: number): Promise<void> {
  const deadline = Date.now() + GROUP_GONE_TIMEOUT_MS
  while (liveGroupMembers(pgid).length > 0 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

function signalNumber (signal: string): number | undefined {
  return (constants.signals as Record<string, number | undefined>)[signal]
}

/**
 * A running app of the process driver, in its own process group (its pid is the group's id):
 * signals go to the whole group, and what is left of the group when the app exits is killed,
 * as everything in a VM dies with it (`exited` resolves once the group is gone, so its ports
 * are free again).
 *
 * While watched, the child (or the /proc poll of an adopted app) holds the event loop, so
 * `exited` resolves even when nothing else runs; `detach` lets go of it (the app keeps running).
 */
export function createProcessHandle (init: ProcessHandleInit, components: { logger: Logger }): VmHandle {
  const { record, child } = init
  const log = components.logger.child({ pid: record.pid })
  let requested = false
  let detached = false
  let gone = false
  let stopping: Promise<ExitInfo> | undefined
  let pollTimer: NodeJS.Timeout | undefined
  let resolveExited!: (info: ExitInfo) => void
  const exited = new Promise<ExitInfo>(resolve => { resolveExited = resolve })

  const alive = (): boolean => isSameProcess(record.pid, record.pidStartTicks)

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (gone) return
    // A pid we did not spawn may have been reused: only signal the process we know.
    if (child === undefined && !alive()) return
    try {
      process.kill(-record.pid, signal)
    } catch {
      try { process.kill(record.pid, signal) } catch {}
    }
  }

  const classify = (code: number | null, signal: string | null): ExitInfo => {
    const base = { exitCode: code, vmmExitCode: code, signal }
    if (requested) return { reason: 'stopped', ...base }
    if (code !== null) return { reason: 'guest-exit', ...base }
    return { reason: 'crashed', ...base }
  }

  const onGone = async (code: number | null, signal: string | null, known: boolean): Promise<void> => {
    if (gone || detached) return
    gone = true
    clearTimeout(pollTimer)
    // A pid stays reserved while it is some live process's group id, so while members are
    // left this reaches only the app's own processes.
    if (liveGroupMembers(record.pid).length > 0) {
      try { process.kill(-record.pid, 'SIGKILL') } catch {}
      await waitGroupGone(record.pid)
    }
    if (known) {
      const shellCode = code ?? 128 + (signal === null ? 0 : signalNumber(signal) ?? 0)
      await appendMarker(init.consoleLog, `${EXIT_MARKER}${shellCode}\n`).catch((err: unknown) => {
        log.warn({ err }, 'could not write the exit marker')
      })
    }
    const info = classify(code, signal)
    try {
      await init.cleanup?.()
    } catch (err) {
      log.warn({ err }, 'cleanup after the app exited failed')
    }
    log.info(info, 'app exited')
    resolveExited(info)
  }

  const watchProc = (): void => {
    if (gone || detached) return
    if (!alive()) {
      void onGone(null, null, false)
      return
    }
    pollTimer = setTimeout(watchProc, init.pollIntervalMs ?? PROCESS_POLL_MS)
  }

  if (child !== undefined) {
    child.once('exit', (code, signal) => { void onGone(code, signal, true) })
  } else {
    watchProc()
  }

  const kill = async (): Promise<ExitInfo> => {
    if (gone) return await exited
    requested = true
    signalGroup('SIGKILL')
    return await exited
  }

  const stop = async (opts: { timeoutMs?: number, signal?: string } = {}): Promise<ExitInfo> => {
    const signal = opts.signal ?? 'SIGTERM'
    if (signalNumber(signal) === undefined) throw new InvalidArgumentError(`unknown signal ${JSON.stringify(signal)}`)
    if (gone) return await exited
    if (signal === 'SIGKILL') return await kill()
    stopping ??= (async () => {
      requested = true
      signalGroup(signal as NodeJS.Signals)
      if (await within(exited, opts.timeoutMs ?? init.stopTimeoutMs ?? PROCESS_STOP_TIMEOUT_MS)) return await exited
      log.warn({ signal }, 'app did not exit in time; killing it')
      return await kill()
    })()
    return await stopping
  }

  return {
    record,
    exited,
    stop,
    kill,
    suspend: async () => { throw new VmmError('the process driver cannot suspend', { pid: record.pid }) },
    // A process runs until it ends: it has no paused state and no snapshots.
    status: async () => {
      if (gone) throw new VmmError('the app is gone', { pid: record.pid })
      return { run: 'running', detail: 'process alive', snapshot: false }
    },
    unpause: async () => {},
    detach: () => {
      if (detached) return
      detached = true
      clearTimeout(pollTimer)
      child?.unref()
    }
  }
}
