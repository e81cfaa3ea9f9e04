import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ApiExtension } from '../api/machines/api-extension.js'
import { MethodNotAllowedError } from '../api/machines/errors.js'
import { InvalidArgumentError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import { EventStreamsFullError } from './errors.js'
import type { RoostEvent } from './event-kinds.js'
import type { EventLog } from './event-log.js'
import { openSseStream, SSE_HEADERS, type SseStream } from '../api/sse-stream.js'

export interface EventsApiInit {
  /** Default 15 s. */
  pingMs?: number
  /** Unsent bytes one stream may hold before its client is dropped (default 1 MiB). */
  maxBufferedBytes?: number
  /** Streams served at once (default 64). */
  maxStreams?: number
}

export interface EventsApiComponents {
  events: Pick<EventLog, 'since' | 'subscribe'>
  logger: Logger
  clock: Clock
}

/** `/v1/events` on the agent's API listener, plus how many slow streams it cut off. */
export interface EventsApi extends ApiExtension {
  stats: () => { streams: number, dropped: number }
}

export const EVENTS_PATH = '/v1/events'
export const PING_MS = 15_000
export const MAX_BUFFERED_BYTES = 1024 * 1024
export const MAX_STREAMS = 64
export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 1_000

const count = (name: string, raw: string | null | undefined, min: number, max: number): number | undefined => {
  if (raw === null || raw === undefined) return undefined
  if (!/^\d{1,15}$/.test(raw)) throw new InvalidArgumentError(`${name} must be a whole number (got ${JSON.stringify(raw.slice(0, 40))})`, { [name]: raw.slice(0, 40) })
  const n = Number(raw)
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max} (got ${n})`, { [name]: n })
  return n
}

const flag = (raw: string | null): boolean => {
  if (raw === null || raw === 'false' || raw === '0') return false
  if (raw === '' || raw === 'true' || raw === '1') return true
  throw new InvalidArgumentError(`follow must be true or false (got ${JSON.stringify(raw.slice(0, 40))})`)
}

/**
 * `GET /v1/events?since=<seq>&limit=<n>` (token required): this host's events after `since`, as
 * a JSON array. With `follow=true` or `Accept: text/event-stream` it is a server-sent event
 * stream instead — the events after `since` (or `Last-Event-ID`), then each new one as it is
 * recorded, a `: ping` comment every 15 s — until the client goes, reads too slowly (cut off
 * past its byte budget) or the server stops.
 */
export function createEventsApi (init: EventsApiInit, components: EventsApiComponents): EventsApi {
  const log = components.logger
  const streams = new Set<SseStream>()
  const pingMs = init.pingMs ?? PING_MS
  let dropped = 0
  let pingTimer: unknown

  const ping = (): void => {
    pingTimer = undefined
    for (const s of streams) s.ping()
    if (streams.size > 0) pingTimer = components.clock.setTimeout(ping, pingMs)
  }

  const follow = (req: IncomingMessage, res: ServerResponse, reqId: string, since: number): void => {
    if (streams.size >= (init.maxStreams ?? MAX_STREAMS)) throw new EventStreamsFullError(`this agent already serves ${streams.size} event streams`, { streams: streams.size })
    res.writeHead(200, { ...SSE_HEADERS, connection: 'keep-alive', 'x-request-id': reqId })
    let unsubscribe = (): void => {}
    const stream = openSseStream(res, { maxBufferedBytes: init.maxBufferedBytes ?? MAX_BUFFERED_BYTES }, { logger: log.child({ reqId, remote: req.socket.remoteAddress }) })
    stream.onClose((why) => {
      streams.delete(stream)
      unsubscribe()
      if (why === 'dropped') dropped++
    })
    streams.add(stream)
    pingTimer ??= components.clock.setTimeout(ping, pingMs)
    const backlog = components.events.since(since, Number.MAX_SAFE_INTEGER)
    if (backlog.firstSeq > since + 1) stream.comment(`events ${since + 1}-${backlog.firstSeq - 1} are no longer kept`)
    else stream.comment('roost events')
    const send = (e: RoostEvent): void => { stream.send(JSON.stringify(e), { id: String(e.seq) }) }
    for (const e of backlog.events) send(e)
    // Recording is synchronous, so nothing can be recorded between the backlog and this.
    if (streams.has(stream)) unsubscribe = components.events.subscribe(send)
  }

  return {
    name: 'events',
    handle (req, res, ctx) {
      if (ctx.url.pathname !== EVENTS_PATH) return false
      ctx.requireToken()
      if (req.method !== 'GET') {
        res.setHeader('allow', 'GET')
        throw new MethodNotAllowedError(`${req.method ?? '?'} is not allowed on ${EVENTS_PATH} (allowed: GET)`, { allow: ['GET'] })
      }
      const q = ctx.url.searchParams
      const lastEventId = req.headers['last-event-id']
      const since = count('Last-Event-ID', Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, 0, Number.MAX_SAFE_INTEGER) ??
        count('since', q.get('since'), 0, Number.MAX_SAFE_INTEGER) ?? 0
      const limit = count('limit', q.get('limit'), 1, MAX_LIMIT) ?? DEFAULT_LIMIT
      const sse = flag(q.get('follow')) || (req.headers.accept ?? '').includes('text/event-stream')
      if (sse) {
        follow(req, res, ctx.reqId, since)
        return true
      }
      const body = JSON.stringify(components.events.since(since, limit).events)
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
        'x-request-id': ctx.reqId
      })
      res.end(body)
      return true
    },
    stop () {
      components.clock.clearTimeout(pingTimer)
      pingTimer = undefined
      for (const s of [...streams]) s.close()
    },
    stats: () => ({ streams: streams.size, dropped })
  }
}
