import { createConnection, type Socket } from 'node:net'
import type { Logger } from '../log/logger.js'
import { VmmError } from '../errors/errors.js'

const CONNECT_TIMEOUT_MS = 5_000
const COMMAND_TIMEOUT_MS = 10_000
const CONNECT_RETRY_MS = 25
const MAX_LINE_BYTES = 1024 * 1024

/** An asynchronous QMP event (SHUTDOWN, STOP, RESUME, MIGRATION …). */
export interface QmpEvent {
  event: string
  data: Record<string, unknown>
  timestamp?: { seconds: number, microseconds: number }
}

/** QEMU's greeting: its version and capabilities. */
export interface QmpGreeting {
  version?: { qemu?: { major: number, minor: number, micro: number }, package?: string }
  capabilities?: unknown[]
}

export interface QmpClientInit {
  /** The socket QEMU serves QMP on (`-qmp unix:PATH,server=on,wait=off`). */
  socketPath: string
  /** How long to keep retrying while the socket does not exist yet, greeting included. */
  connectTimeoutMs?: number
  /** Default timeout of `execute`. */
  commandTimeoutMs?: number
  /** Gives up connecting early (e.g. the QEMU process died). */
  signal?: AbortSignal
}

export interface QmpClientComponents {
  logger: Logger
}

/** A QMP session in command mode. */
export interface QmpClient {
  readonly greeting: QmpGreeting
  /** Runs a command; resolves with its `return`, rejects with a VmmError carrying QMP's class and desc. */
  execute: <T = unknown>(command: string, args?: Record<string, unknown>, opts?: { timeoutMs?: number }) => Promise<T>
  /** Subscribes to events; returns the unsubscribe function. */
  onEvent: (listener: (ev: QmpEvent) => void) => () => void
  /** Resolves when the connection is gone (QEMU exited, or `close`). */
  readonly closed: Promise<void>
  readonly isClosed: boolean
  /** Closes this connection; QEMU keeps running. Idempotent. */
  close: () => void
}

interface Pending {
  command: string
  resolve: (v: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

async function openSocket (path: string, deadline: number, signal?: AbortSignal): Promise<Socket> {
  for (;;) {
    if (signal?.aborted === true) throw new VmmError(`QMP connect to ${path} aborted`, { reason: String(signal.reason) })
    const result = await new Promise<Socket | NodeJS.ErrnoException>((resolve) => {
      const s = createConnection(path)
      s.once('connect', () => { s.removeAllListeners('error'); resolve(s) })
      s.once('error', (err) => { s.destroy(); resolve(err) })
    })
    if (!(result instanceof Error)) return result
    const retriable = result.code === 'ENOENT' || result.code === 'ECONNREFUSED'
    if (!retriable || Date.now() >= deadline) {
      throw new VmmError(`QMP connect to ${path} failed: ${result.message}`, { code: result.code })
    }
    await new Promise(resolve => setTimeout(resolve, CONNECT_RETRY_MS))
  }
}

/**
 * Connects to QEMU's QMP socket (retrying until it appears, bounded), reads the greeting and
 * enters command mode with `qmp_capabilities`.
 */
export async function connectQmp (init: QmpClientInit, components: QmpClientComponents): Promise<QmpClient> {
  const log = components.logger
  const deadline = Date.now() + (init.connectTimeoutMs ?? CONNECT_TIMEOUT_MS)
  const socket = await openSocket(init.socketPath, deadline, init.signal)
  const pending = new Map<number, Pending>()
  const listeners = new Set<(ev: QmpEvent) => void>()
  let nextId = 1
  let buf = ''
  let closed = false
  let onGreeting: ((g: QmpGreeting) => void) | undefined
  let resolveClosed!: () => void
  const closedP = new Promise<void>(resolve => { resolveClosed = resolve })

  const failAll = (err: Error): void => {
    for (const p of pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    pending.clear()
  }

  const handle = (msg: Record<string, unknown>): void => {
    if ('QMP' in msg) {
      onGreeting?.(msg.QMP as QmpGreeting)
      return
    }
    if (typeof msg.event === 'string') {
      const ev: QmpEvent = { event: msg.event, data: (msg.data ?? {}) as Record<string, unknown> }
      if (msg.timestamp !== undefined) ev.timestamp = msg.timestamp as { seconds: number, microseconds: number }
      for (const l of listeners) {
        try { l(ev) } catch (err) { log.warn({ err, event: ev.event }, 'QMP event listener threw') }
      }
      return
    }
    if (!('return' in msg) && !('error' in msg)) {
      log.warn({ msg }, 'unexpected QMP message')
      return
    }
    // Replies without an id (QEMU could not parse the command) answer the oldest command.
    const id = typeof msg.id === 'number' ? msg.id : pending.keys().next().value
    const p = id === undefined ? undefined : pending.get(id)
    if (p === undefined || id === undefined) return
    pending.delete(id)
    clearTimeout(p.timer)
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string, desc?: string }
      p.reject(new VmmError(`QMP ${p.command} failed: ${e.desc ?? 'unknown error'}`, { command: p.command, qmpClass: e.class, desc: e.desc }))
    } else {
      p.resolve(msg.return)
    }
  }

  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim()
      buf = buf.slice(nl + 1)
      if (line === '') continue
      let msg: unknown
      try {
        msg = JSON.parse(line)
      } catch {
        log.warn({ line: line.slice(0, 200) }, 'unparsable QMP line')
        continue
      }
      if (msg !== null && typeof msg === 'object') handle(msg as Record<string, unknown>)
    }
    if (buf.length > MAX_LINE_BYTES) {
      log.warn({ bytes: buf.length }, 'QMP line too long; closing')
      socket.destroy()
    }
  })
  socket.on('error', (err) => { log.debug({ err }, 'QMP socket error') })
  socket.on('close', () => {
    closed = true
    failAll(new VmmError('QMP connection closed', { socketPath: init.socketPath }))
    resolveClosed()
  })

  const execute = async <T>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> => {
    if (closed) throw new VmmError(`QMP ${command}: connection closed`, { command })
    const id = nextId++
    const timeoutMs = opts.timeoutMs ?? init.commandTimeoutMs ?? COMMAND_TIMEOUT_MS
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new VmmError(`QMP ${command} timed out after ${timeoutMs} ms`, { command }))
      }, timeoutMs)
      pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer })
      socket.write(JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id }) + '\r\n')
    })
  }

  try {
    const remaining = Math.max(deadline - Date.now(), 1000)
    const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => reject(new VmmError(`no QMP greeting on ${init.socketPath} within ${remaining} ms`)), remaining)
      onGreeting = (g) => { clearTimeout(timer); resolve(g) }
      void closedP.then(() => { clearTimeout(timer); reject(new VmmError(`QMP connection to ${init.socketPath} closed before the greeting`)) })
    })
    onGreeting = undefined
    await execute('qmp_capabilities', undefined, { timeoutMs: remaining })
    return {
      greeting,
      execute,
      onEvent: (listener) => {
        listeners.add(listener)
        return () => { listeners.delete(listener) }
      },
      closed: closedP,
      get isClosed () { return closed },
      close: () => { socket.destroy() }
    }
  } catch (err) {
    socket.destroy()
    throw err
  }
}
