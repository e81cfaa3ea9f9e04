import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { connectControl } from '../api/control-client.js'
import type { MemberView } from '../api/control-api.js'
import { LabError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { labPath, run } from './lab-exec.js'
import { ipTool } from './lab-network.js'

const POLL_MS = 100
const CONTROL_CALL_TIMEOUT_MS = 5_000
/** How long processes left in a namespace get between SIGTERM and SIGKILL. */
const LEFTOVER_GRACE_MS = 3_000

/**
 * Starts `node ARGV…` inside `netns` with stdout and stderr appended to `logFile`. `ip netns exec`
 * execs (no fork), so the child's pid is node's and signals reach node itself.
 */
export async function spawnInNetns (netns: string, argv: string[], logFile: string, env: Record<string, string | undefined>): Promise<ChildProcess> {
  const log = await open(logFile, 'a')
  try {
    const child = spawn(ipTool(), ['netns', 'exec', netns, process.execPath, ...argv], {
      stdio: ['ignore', log.fd, log.fd],
      env: { ...env, PATH: labPath() }
    })
    // An unhandled 'error' (spawn failure) would crash the owner; exit reports it instead.
    child.on('error', () => {})
    return child
  } finally {
    await log.close()
  }
}

export function isRunning (child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null && child.pid !== undefined
}

/** Sends `signal` (unless it is gone already) and resolves when it has exited; SIGKILL after `graceMs`. */
export async function terminate (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!isRunning(child)) return
  await new Promise<void>(resolve => {
    const t = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
    child.once('exit', () => { clearTimeout(t); resolve() })
    child.kill(signal)
  })
}

/** Polls `fn` until it returns a value (or stops throwing), at most `timeoutMs`. */
export async function pollUntil<T> (fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      if (err instanceof LabError && err.details?.fatal === true) throw err
      last = err
    }
    if (Date.now() >= deadline) {
      throw new LabError(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`)
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

function exitedEarly (child: ChildProcess, what: string, logFile: string): LabError | undefined {
  if (isRunning(child)) return undefined
  return new LabError(`${what} exited (${child.exitCode ?? child.signalCode ?? 'spawn failed'}); see ${logFile}`, { fatal: true, logFile })
}

/** One call on an agent's control socket, bounded in time. */
export async function controlCall<T> (socketPath: string, fn: (api: Awaited<ReturnType<typeof connectControl>>['api']) => Promise<T>, timeoutMs = CONTROL_CALL_TIMEOUT_MS): Promise<T> {
  const c = await connectControl(socketPath)
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      c.call(fn),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new LabError(`control call on ${socketPath} timed out`)) }, timeoutMs)
      })
    ])
  } finally {
    clearTimeout(timer)
    c.close()
  }
}

/** Resolves once the agent answers `info` on its control socket; rejects at once if it exits. */
export async function waitForControl (child: ChildProcess, socketPath: string, logFile: string, what: string, timeoutMs: number): Promise<void> {
  await pollUntil(async () => {
    const early = exitedEarly(child, what, logFile)
    if (early !== undefined) throw early
    await controlCall(socketPath, async api => await api.info())
    return true
  }, timeoutMs, `${what} to answer on ${socketPath}`)
}

/** Resolves once `logFile` contains `text`; rejects at once if the child exits. */
export async function waitForLogLine (child: ChildProcess, logFile: string, text: string, what: string, timeoutMs: number): Promise<void> {
  await pollUntil(async () => {
    const early = exitedEarly(child, what, logFile)
    if (early !== undefined) throw early
    return existsSync(logFile) && (await readFile(logFile, 'utf8')).includes(text) ? true : undefined
  }, timeoutMs, `${what} (${JSON.stringify(text)} in ${logFile})`)
}

/** The membership as the agent on `socketPath` sees it. */
export async function memberViews (socketPath: string): Promise<MemberView[]> {
  return await controlCall(socketPath, async api => await api.members())
}

/** Pids of the processes inside `netns` (none when it does not exist). */
export async function pidsInNetns (netns: string): Promise<number[]> {
  let out: string
  try {
    out = await run(ipTool(), ['netns', 'pids', netns])
  } catch {
    return []
  }
  return out.split('\n').map(l => Number(l.trim())).filter(n => Number.isInteger(n) && n > 0)
}

function alive (pid: number): boolean {
  return existsSync(`/proc/${pid}`)
}

async function cmdline (pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim()
  } catch { return '' }
}

/**
 * Ends the processes still inside a lab namespace (an agent's wireguard-go after the agent was
 * killed, or agents of a lab whose owner died): SIGTERM, then SIGKILL after a grace period.
 * Only lab namespaces are passed here; nothing else runs in them.
 */
export async function endNetnsProcesses (netns: string, logger: Logger): Promise<number[]> {
  const pids = await pidsInNetns(netns)
  if (pids.length === 0) return []
  for (const pid of pids) {
    logger.warn({ netns, pid, cmdline: await cmdline(pid) }, 'ending a process left in a lab namespace')
    try { process.kill(pid, 'SIGTERM') } catch {}
  }
  const deadline = Date.now() + LEFTOVER_GRACE_MS
  while (pids.some(alive) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  for (const pid of pids.filter(alive)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  return pids
}
