import type { ServerResponse } from 'node:http'
import type { Clock } from '../runtime/clock.js'
import type { RoostEvent } from './event-kinds.js'

export interface SseStreamInit {
  /** A `: ping` comment this often keeps proxies and idle timeouts from cutting the stream. */
  pingMs: number
  /** Bytes the response may hold unsent (the client does not read) before the stream is dropped. */
  maxBufferedBytes: number
}

export interface SseStreamComponents {
  clock: Clock
  /** Called once when the stream ends: closed by the client, ended, or dropped. */
  onClose: (why: 'closed' | 'ended' | 'dropped') => void
}

/** One server-sent event stream on an HTTP response whose headers are written. */
export interface SseStream {
  /** Writes one event (`id: <seq>`, `data: <JSON>`); drops the stream past its byte budget. */
  send: (e: RoostEvent) => void
  /** A comment line (`: text`), which clients ignore. */
  comment: (text: string) => void
  /** Ends the stream (the server is stopping). */
  end: () => void
}

/** The SSE framing of an event: what `EventSource` reads as `lastEventId` and `data`. */
export function sseFrame (e: RoostEvent): string {
  return `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`
}

export function createSseStream (res: ServerResponse, init: SseStreamInit, components: SseStreamComponents): SseStream {
  const { clock } = components
  let open = true
  let timer: unknown = null

  const finish = (why: 'closed' | 'ended' | 'dropped'): void => {
    if (!open) return
    open = false
    clock.clearTimeout(timer)
    components.onClose(why)
  }
  const write = (chunk: string): void => {
    if (!open) return
    res.write(chunk)
    // A client that stops reading fills the socket, then this buffer: past the budget it is cut
    // off rather than held in memory for as long as it stays connected.
    if (res.writableLength > init.maxBufferedBytes) {
      finish('dropped')
      res.destroy()
    }
  }
  const ping = (): void => {
    write(': ping\n\n')
    if (open) timer = clock.setTimeout(ping, init.pingMs)
  }
  res.on('close', () => { finish('closed') })
  timer = clock.setTimeout(ping, init.pingMs)

  return {
    send: (e) => { write(sseFrame(e)) },
    comment: (text) => { write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`) },
    end () {
      if (!open) return
      finish('ended')
      res.end()
    }
  }
}
