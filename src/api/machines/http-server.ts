import { randomUUID } from 'node:crypto'
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { RoostError } from '../../errors/roost-error.js'
import { createLogLimiter, suppressedField, type LogLimiterClock } from '../../log/log-limiter.js'
import type { Logger } from '../../log/logger.js'
import type { ApiExtension } from './api-extension.js'
import { createBearerCheck } from './auth.js'
import { httpStatusForCode, MethodNotAllowedError, RouteNotFoundError } from './errors.js'
import { createHandlers } from './handlers.js'
import { buildOpenApiDocument } from './openapi.js'
import { readBody, readJsonBody } from './read-body.js'
import { createRouter } from './router.js'
import { ROUTES } from './routes.js'
import type { MachinesBackend } from './schemas.js'
import { decodeQuery, validateBody, validateParams } from './validate.js'

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
const HEADERS_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 30_000
const KEEP_ALIVE_TIMEOUT_MS = 5_000
const CONNECTIONS_CHECK_MS = 1_000
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

export interface MachinesApiServerInit {
  /** Address to listen on (e.g. 127.0.0.1). */
  host: string
  /** TCP port; 0 picks any free one (see `address()`). */
  port: number
  /** The bearer token every request must carry. */
  token: string
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number
  /** Version shown in the OpenAPI document. */
  version?: string
  /** How long a client may take to send its headers (default 10 s) and its whole request (default 30 s). */
  headersTimeoutMs?: number
  requestTimeoutMs?: number
}

export interface MachinesApiServerComponents {
  backend: MachinesBackend
  logger: Logger
  /** More routes on the same listener, asked before the Machines routes (see ApiExtension). */
  extensions?: readonly ApiExtension[]
  /** For the failed-request log's rate limit (wall clock by default). */
  clock?: LogLimiterClock
}

/** The Machines HTTP API (Fly Machines shape) over node:http. */
export interface MachinesApiServer {
  start: () => Promise<void>
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  stop: () => Promise<void>
  /** Where it listens; throws before start. */
  address: () => { host: string, port: number }
}

interface ErrorBody { error: string, code: string, details?: Record<string, unknown> }

function errorBody (err: unknown, reqId: string): { status: number, body: ErrorBody } {
  if (err instanceof RoostError) {
    const body: ErrorBody = { error: err.message, code: err.code }
    if (err.details !== undefined) body.details = err.details
    return { status: httpStatusForCode(err.code), body }
  }
  return { status: 500, body: { error: `internal error (request ${reqId}; see the agent's log)`, code: 'ERR_INTERNAL' } }
}

/** Serves the Machines API (routes in routes.ts) over HTTP with bearer auth, body limits and typed error answers. */
export function createMachinesApiServer (init: MachinesApiServerInit, components: MachinesApiServerComponents): MachinesApiServer {
  const log = components.logger.child({ component: 'machines-api' })
  // One line per failed request is an access log an attacker can turn into a log flood (each line
  // a synchronous write on the actors' loop): per client and error code, 5 lines per 10 s.
  const failGate = createLogLimiter({}, components.clock === undefined ? {} : { clock: components.clock })
  const maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const checkBearer = createBearerCheck(init.token)
  const router = createRouter(ROUTES)
  const openapi = buildOpenApiDocument({ version: init.version ?? '0.0.0' })
  const handlers = createHandlers(components.backend, () => openapi)
  let server: Server | undefined
  let bound: { host: string, port: number } | undefined
  const sockets = new Set<Socket>()

  const send = (res: ServerResponse, reqId: string, status: number, payload: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return
    const text = typeof payload === 'string'
    const body = text ? payload : JSON.stringify(payload)
    res.writeHead(status, {
      'content-type': text ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-request-id': reqId,
      ...headers
    })
    res.end(body)
  }

  const extensions = components.extensions ?? []

  const handle = async (req: IncomingMessage, res: ServerResponse, reqId: string): Promise<number> => {
    let authError: unknown
    try { checkBearer(req.headers.authorization) } catch (err) { authError = err }
    const requireToken = (): void => { if (authError !== undefined) throw authError }
    const target = req.url ?? ''
    let url: URL
    try {
      // Concatenated, not resolved against a base: `//host/path` must stay a path.
      if (!target.startsWith('/')) throw new Error('not origin-form')
      url = new URL(`http://api.invalid${target}`)
    } catch {
      requireToken()
      throw new RouteNotFoundError('the request target must be a path')
    }
    for (const ext of extensions) {
      if (await ext.handle(req, res, { url, reqId, requireToken, authorized: authError === undefined })) return res.statusCode
    }
    requireToken()
    const method = req.method ?? 'GET'
    const found = router.match(method, url.pathname)
    if (found.kind === 'not-found') throw new RouteNotFoundError(`no route ${method} ${url.pathname}`)
    if (found.kind === 'method-not-allowed') {
      res.setHeader('allow', found.allow.join(', '))
      throw new MethodNotAllowedError(`${method} is not allowed on ${url.pathname} (allowed: ${found.allow.join(', ')})`, { allow: found.allow })
    }
    const { route, params } = found
    validateParams(params)
    const query = decodeQuery(route, url.searchParams)
    let body: unknown
    if (route.body !== undefined) {
      body = await readJsonBody(req, { maxBytes: maxBodyBytes, required: route.body.required })
      if (body !== undefined) validateBody(route.body.schema, body)
    } else {
      await readBody(req, maxBodyBytes)
    }
    const result = await handlers[route.op]({ params, query, body })
    send(res, reqId, 200, route.response === 'text' ? String(result) : result)
    return 200
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    const given = req.headers['x-request-id']
    const reqId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    const path = (req.url ?? '').split('?')[0]
    handle(req, res, reqId).then(status => {
      log.debug({ reqId, method: req.method, path, status, ms: Math.round(performance.now() - started) }, 'request')
    }, (err: unknown) => {
      if (res.destroyed) {
        log.debug({ reqId, method: req.method, path, err: (err as Error).message }, 'client went away before the answer')
        return
      }
      const { status, body } = errorBody(err, reqId)
      const headers: Record<string, string> = {}
      if (status === 401) headers['www-authenticate'] = 'Bearer'
      // An unread or cut-off body would otherwise be parsed as the next request.
      if (!req.complete) headers.connection = 'close'
      send(res, reqId, status, body, headers)
      const gate = failGate.take(`${req.socket.remoteAddress ?? ''}:${body.code}`)
      if (gate === false) return
      if (status >= 500 && !(err instanceof RoostError)) log.error({ reqId, method: req.method, path, err, ...suppressedField(gate) }, 'request failed')
      else log.warn({ reqId, method: req.method, path, status, code: body.code, error: body.error, ...suppressedField(gate) }, 'request failed')
      log.debug({ reqId, method: req.method, path, status, ms: Math.round(performance.now() - started) }, 'request')
    })
  }

  return {
    async start () {
      if (server !== undefined) return
      const srv = createServer({
        headersTimeout: init.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
        requestTimeout: init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        connectionsCheckingInterval: CONNECTIONS_CHECK_MS
      }, onRequest)
      srv.on('connection', (socket: Socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
      })
      srv.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
        log.debug({ code: err.code, err: err.message }, 'bad HTTP from client; connection closed')
        if (socket.writable && err.code !== 'ECONNRESET') {
          const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
          const body = JSON.stringify({ error: `bad HTTP request (${err.code ?? 'unknown'})`, code: 'ERR_BAD_REQUEST' })
          socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
        }
        socket.destroySoon()
      })
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(init.port, init.host, () => { srv.off('error', reject); resolve() })
      })
      srv.on('error', (err) => { log.warn({ err }, 'machines API server error') })
      const addr = srv.address() as AddressInfo
      bound = { host: addr.address, port: addr.port }
      server = srv
      log.debug(bound, 'machines API listening')
    },
    async stop () {
      const srv = server
      if (srv === undefined) return
      server = undefined
      bound = undefined
      for (const ext of extensions) await ext.stop?.()
      const closed = new Promise<void>(resolve => { srv.close(() => { resolve() }) })
      srv.closeAllConnections()
      for (const s of sockets) s.destroy()
      await closed
    },
    address () {
      if (bound === undefined) throw new Error('the machines API server is not started')
      return bound
    }
  }
}
