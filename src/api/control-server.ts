import { createServer, createConnection, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import { expose } from 'comlink'
import type { Codec } from '../codec/codec.js'
import { createLogLimiter, suppressedField, type LogLimiterClock } from '../log/log-limiter.js'
import type { Logger } from '../log/logger.js'
import { createByteBudget, type ByteBudgetStats } from './byte-budget.js'
import { installComlinkErrorHandler } from './comlink-errors.js'
import type { ControlApi } from './control-api.js'
import { guardControlEndpoint } from './control-guard.js'
import { socketEndpoint } from './socket-endpoint.js'

/**
 * Unfinished control frames one connection may hold: a CLI request is a few KiB, and a frame may
 * be half of this (the other half leaves room for the read that completes it).
 */
export const CONTROL_CONNECTION_BUDGET_BYTES = 1024 * 1024
/** Unfinished control frames all connections together may hold. */
export const CONTROL_TOTAL_BUDGET_BYTES = 8 * 1024 * 1024

export interface ControlServerInit {
  socketPath: string
  /** Default {@link CONTROL_CONNECTION_BUDGET_BYTES}; frames over half of it are refused outright. */
  connectionBudgetBytes?: number
  /** Default {@link CONTROL_TOTAL_BUDGET_BYTES}. */
  totalBudgetBytes?: number
}

export interface ControlServerComponents {
  logger: Logger
  codec: Codec
  api: ControlApi
  /** For the refused-call log's rate limit (wall clock by default). */
  clock?: LogLimiterClock
}

export interface ControlServer {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Bytes of unfinished frames held now, open connections, and times a budget was exceeded. */
  stats: () => ByteBudgetStats
}

async function socketInUse (path: string): Promise<boolean> {
  return await new Promise(resolve => {
    const s = createConnection(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

/**
 * Serves the {@link ControlApi} on a unix socket (mode 0600) for the CLI: only calls of its
 * listed methods are answered, and unfinished frames are held within byte budgets per
 * connection and in total.
 */
export function createControlServer (init: ControlServerInit, components: ControlServerComponents): ControlServer {
  const log = components.logger.child({ component: 'control' })
  // 5 lines per 10 s per kind and code: a client looping on bad calls must not become a log flood.
  const logGate = createLogLimiter({}, components.clock === undefined ? {} : { clock: components.clock })
  const warn = (kind: string, err: Error): void => {
    const code = (err as { code?: string }).code
    const gate = logGate.take(`${kind}:${code ?? ''}`)
    if (gate !== false) log.warn({ err: err.message, code, ...suppressedField(gate) }, kind)
  }
  let server: Server | undefined
  const sockets = new Set<Socket>()
  const perConnection = init.connectionBudgetBytes ?? CONTROL_CONNECTION_BUDGET_BYTES
  const budget = createByteBudget({ perConnectionBytes: perConnection, totalBytes: init.totalBudgetBytes ?? CONTROL_TOTAL_BUDGET_BYTES })
  installComlinkErrorHandler()
  return {
    async start () {
      if (server !== undefined) return
      if (await socketInUse(init.socketPath)) throw new Error(`another agent is listening on ${init.socketPath}`)
      await unlink(init.socketPath).catch(() => {})
      const srv = createServer((socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => {})
        const endpoint = socketEndpoint(socket, components.codec, (err) => { warn('bad control frame; connection closed', err) }, { maxFrameBytes: Math.floor(perConnection / 2), account: budget.open() })
        expose(components.api, guardControlEndpoint(endpoint, (err) => { warn('refused a control call', err) }))
      })
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(init.socketPath, () => { srv.off('error', reject); resolve() })
      })
      await chmod(init.socketPath, 0o600)
      server = srv
      log.debug({ socket: init.socketPath }, 'control socket listening')
    },
    async stop () {
      const srv = server
      if (srv === undefined) return
      server = undefined
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => { srv.close(() => { resolve() }) })
      await unlink(init.socketPath).catch(() => {})
    },
    stats: () => budget.stats()
  }
}
