import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ApiExtension } from '../api/machines/api-extension.js'
import { MethodNotAllowedError, RouteNotFoundError } from '../api/machines/errors.js'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import type { StatusSnapshot } from './snapshot.js'
import { createStaticAssets, type StaticAssets } from './static-assets.js'
import { createStatusFeed, type StatusFeedInit } from './status-feed.js'
import { SSE_HEADERS } from '../api/sse-stream.js'

// The page holds no data, only code: it may be fetched without the token; what it shows comes
// from /v1/status*, which need it. The token travels in the URL fragment, never to a server.
const PAGE_HEADERS = {
  'cache-control': 'no-cache',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff'
}

export type StatusPageInit = StatusFeedInit

export interface StatusPageComponents {
  snapshot: () => Promise<StatusSnapshot>
  clock: Clock
  logger: Logger
  /** The page's files (default: the shipped ones). */
  assets?: StaticAssets
}

const readOnly = (req: IncomingMessage, res: ServerResponse, path: string): void => {
  if (req.method === 'GET' || req.method === 'HEAD') return
  res.setHeader('allow', 'GET, HEAD')
  throw new MethodNotAllowedError(`${req.method ?? '?'} is not allowed on ${path} (allowed: GET, HEAD)`, { allow: ['GET', 'HEAD'] })
}

/**
 * The live status page on the agent's API listener: `GET /status` and its files (public),
 * `GET /v1/status` (a JSON snapshot) and `GET /v1/status/stream` (server-sent snapshots), both
 * behind the API token.
 */
export function createStatusPageExtension (init: StatusPageInit, components: StatusPageComponents): ApiExtension {
  const assets = components.assets ?? createStaticAssets()
  const feed = createStatusFeed(init, { snapshot: components.snapshot, clock: components.clock, logger: components.logger.child({ component: 'status-feed' }) })

  const serveFile = async (req: IncomingMessage, res: ServerResponse, path: string, reqId: string): Promise<void> => {
    readOnly(req, res, path)
    const asset = await assets.get(path)
    if (asset === undefined) throw new RouteNotFoundError(`no status page file ${path}`)
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': asset.contentType, 'content-length': String(asset.body.length), 'x-request-id': reqId })
    res.end(req.method === 'HEAD' ? undefined : asset.body)
  }

  return {
    name: 'status-page',
    async handle (req, res, ctx) {
      const path = ctx.url.pathname === '/status/' ? '/status' : ctx.url.pathname
      if (assets.has(path)) {
        await serveFile(req, res, path, ctx.reqId)
        return true
      }
      if (path.startsWith('/status/')) throw new RouteNotFoundError(`no status page file ${path}`)
      if (path === '/v1/status') {
        ctx.requireToken()
        readOnly(req, res, path)
        const body = JSON.stringify(await components.snapshot())
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-request-id': ctx.reqId })
        res.end(req.method === 'HEAD' ? undefined : body)
        return true
      }
      if (path === '/v1/status/stream') {
        ctx.requireToken()
        if (req.method !== 'GET') res.setHeader('allow', 'GET')
        if (req.method !== 'GET') throw new MethodNotAllowedError(`${req.method ?? '?'} is not allowed on ${path} (allowed: GET)`, { allow: ['GET'] })
        res.writeHead(200, { ...SSE_HEADERS, 'x-request-id': ctx.reqId })
        res.flushHeaders()
        feed.attach(res)
        return true
      }
      return false
    },
    stop () { feed.stop() }
  }
}
