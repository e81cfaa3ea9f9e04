// Server-sent events over fetch(): EventSource cannot send an Authorization header.

/** Thrown when the server answers something other than 200 (status kept for the caller). */
export class StreamRefused extends Error {
  constructor (status) {
    super(`HTTP ${status}`)
    this.status = status
  }
}

/** Splits a text/event-stream body into messages: { event, id, data }. */
export function createSseParser (onMessage) {
  let buffer = ''
  let msg = { event: 'message', id: '', data: [] }
  return (chunk) => {
    buffer += chunk
    let nl
    while ((nl = buffer.search(/\r\n|\r|\n/)) !== -1) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (msg.data.length > 0) onMessage({ event: msg.event, id: msg.id, data: msg.data.join('\n') })
        msg = { event: 'message', id: '', data: [] }
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'data') msg.data.push(value)
      else if (field === 'event') msg.event = value
      else if (field === 'id') msg.id = value
    }
  }
}

/** Reads one stream until it ends (resolves) or fails (rejects; StreamRefused for a non-200 answer). */
export async function readSse (url, token, onMessage, signal, onOpen = () => {}) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal, cache: 'no-store' })
  if (res.status !== 200) throw new StreamRefused(res.status)
  onOpen()
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  const parse = createSseParser(onMessage)
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    parse(value)
  }
}

/**
 * Keeps a stream open: reconnects after an end or a network error (backing off to 5 s), stops on
 * 401 or 404. `onState` hears 'live', 'reconnecting', 'unauthorized' or 'unavailable'.
 */
export function follow (url, token, onMessage, onState) {
  const abort = new AbortController()
  let wait = 500
  const loop = async () => {
    while (!abort.signal.aborted) {
      try {
        await readSse(url, token, onMessage, abort.signal, () => { wait = 500; onState('live') })
      } catch (err) {
        if (abort.signal.aborted) return
        if (err instanceof StreamRefused && err.status === 401) { onState('unauthorized'); return }
        if (err instanceof StreamRefused && err.status === 404) { onState('unavailable'); return }
      }
      onState('reconnecting')
      await new Promise(resolve => setTimeout(resolve, wait))
      wait = Math.min(wait * 2, 5000)
    }
  }
  loop()
  return () => abort.abort()
}
