import { spawn, type ChildProcess } from 'node:child_process'
import { open, rm } from 'node:fs/promises'
import type { Logger } from '../log/logger.js'
import { VmmError } from '../errors/errors.js'
import { fileSize, readTail } from './qemu-console.js'
import type { ProcessEnd } from './qemu-handle.js'
import { connectQmp, type QmpClient } from './qmp-client.js'
import { readStartTicks } from './proc-info.js'

const QMP_CONNECT_TIMEOUT_MS = 10_000
const FAILURE_LOG_BYTES = 2048
const FAIL_WAIT_MS = 2_000

export interface SpawnQemuInit {
  qemuPath: string
  args: string[]
  /** QEMU's own stdout/stderr (appended). */
  qemuLog: string
  qmpSocket: string
  /** Runs QEMU through this command (e.g. `ip netns exec NAME`); it must exec, keeping the pid. */
  wrapper?: string[]
  /** Names the machine in errors. */
  machineId: string
}

/** A QEMU that runs and answers QMP. */
export interface SpawnedQemu {
  child: ChildProcess
  pid: number
  startTicks: number
  qmp: QmpClient
  childExit: Promise<ProcessEnd>
  /** Kills it and throws a VmmError carrying the end of qemu.log. */
  fail: (why: string, err?: unknown) => Promise<never>
}

/**
 * Starts QEMU detached in its own process group with no pipes to this process (so it outlives
 * the agent, kill -9 included) and connects to its QMP socket. On failure QEMU is killed and the
 * error carries what QEMU printed.
 */
export async function spawnQemu (init: SpawnQemuInit, components: { logger: Logger }): Promise<SpawnedQemu> {
  const logOffset = await fileSize(init.qemuLog)
  await rm(init.qmpSocket, { force: true })
  const [cmd, ...args] = [...(init.wrapper ?? []), init.qemuPath, ...init.args] as [string, ...string[]]
  const out = await open(init.qemuLog, 'a')
  let child: ChildProcess
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['ignore', out.fd, out.fd] })
  } finally {
    await out.close()
  }
  child.unref()
  const ac = new AbortController()
  const childExit = new Promise<ProcessEnd>((resolve) => {
    child.once('exit', (code, signal) => { ac.abort(new Error('qemu exited')); resolve({ code, signal }) })
    child.once('error', (err) => { ac.abort(err); resolve({ code: null, signal: null }) })
  })

  const fail = async (why: string, err?: unknown): Promise<never> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try { process.kill(-child.pid, 'SIGKILL') } catch {}
    }
    child.ref()
    await Promise.race([childExit, new Promise(resolve => setTimeout(resolve, FAIL_WAIT_MS))])
    const tail = (await readTail(init.qemuLog, FAILURE_LOG_BYTES, logOffset)).trim()
    const cause = err instanceof Error ? err.message : undefined
    throw new VmmError(`qemu ${why}${tail === '' ? '' : `: ${tail}`}`, { machineId: init.machineId, ...(cause === undefined ? {} : { cause }) })
  }

  const pid = child.pid
  const startTicks = pid === undefined ? null : readStartTicks(pid)
  if (pid === undefined || startTicks === null) return await fail('did not start')
  let qmp: QmpClient
  try {
    qmp = await connectQmp({ socketPath: init.qmpSocket, connectTimeoutMs: QMP_CONNECT_TIMEOUT_MS, signal: ac.signal }, components)
  } catch (err) {
    return await fail('exited before QMP answered', err)
  }
  return { child, pid, startTicks, qmp, childExit, fail }
}
