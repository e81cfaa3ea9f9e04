import type { Writable } from 'node:stream'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import { snapshotKey, type StatusSnapshot } from './snapshot.js'
import { openSseStream, type SseStream } from '../api/sse-stream.js'

/** How often the replica is looked at while someone watches. */
export const DEFAULT_POLL_MS = 250
/** A snapshot goes out at least this often, changed or not: the page's request rates are sampled from them. */
export const DEFAULT_REFRESH_MS = 1_000
export const DEFAULT_PING_MS = 15_000

export interface StatusFeedInit {
  pollMs?: number
  refreshMs?: number
  pingMs?: number
  /** Each client's byte budget (see SseStream). */
  maxBufferedBytes?: number
}

export interface StatusFeedComponents {
  /** Takes a fresh snapshot of the local replica. */
  snapshot: () => Promise<StatusSnapshot>
  clock: Clock
  logger: Logger
}

/**
 * Live snapshots for every watching client, as server-sent events (`event: snapshot`): a new
 * client gets one at once, then one whenever what the replica says changed (checked every
 * `pollMs`), else every `refreshMs` (figures such as RTT and request counts move without the
 * replica changing, and the page samples its rates from them); a comment every `pingMs`. The
 * replica is only read while at least one client watches.
 */
export interface StatusFeed {
  /** Streams to `out` (a response whose SSE headers are written) until it closes or the feed stops. */
  attach: (out: Writable) => SseStream
  clients: () => number
  /** Ends every stream; later attaches are closed at once. */
  stop: () => void
}

interface Client { stream: SseStream, primed: boolean }

export function createStatusFeed (init: StatusFeedInit, components: StatusFeedComponents): StatusFeed {
  const { clock } = components
  const log = components.logger
  const pollMs = init.pollMs ?? DEFAULT_POLL_MS
  const refreshMs = init.refreshMs ?? DEFAULT_REFRESH_MS
  const pingMs = init.pingMs ?? DEFAULT_PING_MS
  const clients = new Set<Client>()
  let pollTimer: unknown
  let pingTimer: unknown
  let polling = false
  let stopped = false
  let lastKey = ''
  let lastSentAt = 0
  let failing = false

  const tick = async (): Promise<void> => {
    pollTimer = undefined
    if (clients.size === 0 || stopped) { polling = false; return }
    try {
      const snap = await components.snapshot()
      if (failing) log.info('status snapshots work again')
      failing = false
      const key = snapshotKey(snap)
      const due = key !== lastKey || clock.now() - lastSentAt >= refreshMs
      const data = JSON.stringify(snap)
      for (const c of clients) {
        if (!due && c.primed) continue
        c.primed = true
        c.stream.send(data, { event: 'snapshot' })
      }
      if (due) { lastKey = key; lastSentAt = clock.now() }
    } catch (err) {
      if (!failing) log.warn({ err: (err as Error).message }, 'status snapshot failed; retrying')
      failing = true
    }
    if (stopped || clients.size === 0) { polling = false; return }
    pollTimer = clock.setTimeout(() => { void tick() }, pollMs)
  }

  const ping = (): void => {
    pingTimer = undefined
    if (stopped || clients.size === 0) return
    for (const c of clients) c.stream.ping()
    pingTimer = clock.setTimeout(ping, pingMs)
  }

  return {
    attach (out) {
      const stream = openSseStream(out, { ...(init.maxBufferedBytes === undefined ? {} : { maxBufferedBytes: init.maxBufferedBytes }) }, { logger: log })
      if (stopped) { stream.close(); return stream }
      const client: Client = { stream, primed: false }
      clients.add(client)
      stream.onClose(() => { clients.delete(client) })
      if (!polling) {
        polling = true
        pollTimer = clock.setTimeout(() => { void tick() }, 0)
      }
      if (pingTimer === undefined) pingTimer = clock.setTimeout(ping, pingMs)
      return stream
    },
    clients: () => clients.size,
    stop () {
      stopped = true
      if (pollTimer !== undefined) clock.clearTimeout(pollTimer)
      if (pingTimer !== undefined) clock.clearTimeout(pingTimer)
      pollTimer = undefined
      pingTimer = undefined
      for (const c of [...clients]) c.stream.close()
      clients.clear()
    }
  }
}
