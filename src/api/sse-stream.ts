import type { Writable } from 'node:stream'
import { StreamBudgetError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'

/** Default bytes one client may leave unread before it is dropped. */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024

/** The response headers of a server-sent event stream. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  // Proxies in front of the agent must pass events on as they come.
  'x-accel-buffering': 'no'
}

export interface SseStreamInit {
  /** Most bytes the client may leave queued (written, not yet taken by the socket) before it is dropped. */
  maxBufferedBytes?: number
}

export interface SseStreamComponents {
  logger: Logger
}

/** Why a stream ended: the client went, the server ended it, or it was dropped over its budget. */
export type SseCloseReason = 'closed' | 'ended' | 'dropped'

/** One client's server-sent event stream over a writable (an HTTP response whose headers are sent). */
export interface SseStream {
  /** Queues one event; false when the stream is closed or was just dropped for being over its budget. */
  send: (data: string, opts?: { event?: string, id?: string }) => boolean
  /** Queues a comment line (keeps proxies and the client's idle timers from closing the stream). */
  ping: () => boolean
  /** Queues a comment with `text` (one line; clients ignore it). */
  comment: (text: string) => boolean
  /** Ends the stream cleanly (server stopping). */
  close: () => void
  readonly closed: boolean
  /** Called once when the stream ends for any reason (closed, dropped, client gone). */
  onClose: (cb: (why: SseCloseReason) => void) => void
}

/**
 * Writes server-sent events to one client, bounded: a client that stops reading would otherwise
 * make every event pile up in the agent's memory, so past `maxBufferedBytes` queued it is dropped.
 */
export function openSseStream (out: Writable, init: SseStreamInit, components: SseStreamComponents): SseStream {
  const max = init.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  let closed: SseCloseReason | undefined
  const listeners: Array<(why: SseCloseReason) => void> = []
  const finish = (why: SseCloseReason): void => {
    if (closed !== undefined) return
    closed = why
    for (const cb of listeners.splice(0)) cb(why)
  }
  out.once('close', () => { finish('closed') })
  out.once('error', () => { finish('closed') })

  const write = (chunk: string): boolean => {
    if (closed !== undefined || out.destroyed) { finish('closed'); return false }
    const bytes = Buffer.byteLength(chunk)
    if (out.writableLength + bytes > max) {
      const err = new StreamBudgetError(`an event-stream client left ${out.writableLength} bytes unread; ${bytes} more would pass its ${max}-byte budget, so it was dropped`, { queued: out.writableLength, bytes, budget: max })
      components.logger.warn({ err: err.message, code: err.code }, 'slow event-stream client dropped')
      finish('dropped')
      out.destroy()
      return false
    }
    out.write(chunk)
    return true
  }

  return {
    send (data, opts) {
      const lines = data.split(/\r\n|\r|\n/).map(l => `data: ${l}\n`).join('')
      return write(`${opts?.event === undefined ? '' : `event: ${opts.event}\n`}${opts?.id === undefined ? '' : `id: ${opts.id}\n`}${lines}\n`)
    },
    ping: () => write(': ping\n\n'),
    comment: (text) => write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`),
    close () {
      if (closed !== undefined) return
      finish('ended')
      out.end()
    },
    get closed () { return closed !== undefined },
    onClose (cb) {
      if (closed !== undefined) cb(closed)
      else listeners.push(cb)
    }
  }
}
