import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { connect } from 'node:net'
import { createInterface } from 'node:readline'
import { MeshError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { ip, isNotFound } from '../vmm/ip-command.js'
import { wgPath } from './wg-command.js'

/** wireguard-go's control sockets live here, shared by every namespace of the machine. */
export const WG_SOCKET_DIR = '/var/run/wireguard'
const POLL_MS = 10
const SOCKET_TIMEOUT_MS = 5_000
const STALE_TIMEOUT_MS = 3_000
const EXIT_TIMEOUT_MS = 3_000

export function socketPath (ifname: string): string {
  return `${WG_SOCKET_DIR}/${ifname}.sock`
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Whether a process answers on the unix socket (false on ECONNREFUSED/ENOENT: a stale file or none). */
async function socketLive (path: string): Promise<boolean> {
  return await new Promise<boolean>(resolve => {
    const s = connect(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

export async function linkExists (ifname: string): Promise<boolean> {
  try {
    await ip(['link', 'show', 'dev', ifname])
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw err
  }
}

/**
 * Removes what a previous wireguard-go of this name left: its interface (deleting the TUN
 * makes a still-running wireguard-go exit) and its control socket once nothing answers on it.
 * A socket that stays live belongs to a wireguard-go elsewhere (another namespace): a MeshError.
 */
export async function removeStale (ifname: string, log: Logger): Promise<void> {
  if (await linkExists(ifname)) {
    log.warn({ ifname }, 'removing a stale wireguard interface')
    await ip(['link', 'del', 'dev', ifname]).catch((err: unknown) => { if (!isNotFound(err)) throw err })
  }
  const path = socketPath(ifname)
  const deadline = Date.now() + STALE_TIMEOUT_MS
  while (existsSync(path)) {
    if (!(await socketLive(path))) {
      log.warn({ path }, 'removing a stale wireguard control socket')
      await unlink(path).catch(() => {})
      return
    }
    if (Date.now() >= deadline) throw new MeshError(`${path} is held by a running wireguard-go outside this namespace: interface names must be unique on the machine`, { ifname })
    await sleep(POLL_MS * 5)
  }
}

/** Spawns `wireguard-go -f IF` as our child; its output goes to the logger at debug. */
export function spawnWireguardGo (ifname: string, log: Logger): ChildProcess {
  const child = spawn('wireguard-go', ['-f', ifname], {
    env: { ...process.env, PATH: wgPath(), WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue
    createInterface({ input: stream }).on('line', line => { log.debug({ ifname, pid: child.pid }, `wireguard-go: ${line}`) })
  }
  return child
}

/** Resolves with the child's exit, or at once if it already exited. */
export async function exitOf (child: ChildProcess): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode }
  return await new Promise(resolve => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
}

/** Waits until the child's control socket answers; rejects if the child exits first or it takes over 5 s. */
export async function waitForSocket (ifname: string, child: ChildProcess): Promise<void> {
  const path = socketPath(ifname)
  const deadline = Date.now() + SOCKET_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new MeshError(`wireguard-go for ${ifname} exited during start (code ${child.exitCode}, signal ${child.signalCode})`, { ifname })
    }
    if (existsSync(path) && await socketLive(path)) return
    if (Date.now() >= deadline) throw new MeshError(`wireguard-go for ${ifname}: no control socket after ${SOCKET_TIMEOUT_MS} ms`, { ifname })
    await sleep(POLL_MS)
  }
}

/** SIGTERM, then SIGKILL if the child has not exited within 3 s; resolves once it has exited. */
export async function killChild (child: ChildProcess): Promise<void> {
  const exited = exitOf(child)
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>(resolve => { timer = setTimeout(() => { resolve('late') }, EXIT_TIMEOUT_MS) })
  try {
    if (await Promise.race([exited, late]) === 'late') child.kill('SIGKILL')
    await exited
  } finally {
    clearTimeout(timer)
  }
}
