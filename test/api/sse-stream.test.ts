import test from 'ava'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { openSseStream } from '../../src/api/sse-stream.js'

function logCapture (): { logger: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write (s: string) { lines.push(JSON.parse(s) as Record<string, unknown>) } })
  return { logger, lines }
}

/** A client that reads everything at once, keeping it as text. */
function reader (): Writable & { text: () => string } {
  const chunks: Buffer[] = []
  const w = new Writable({ write (chunk: Buffer, _enc, done) { chunks.push(chunk); done() } })
  return Object.assign(w, { text: () => Buffer.concat(chunks).toString() })
}

test('events are framed as server-sent events: event, id, one data line per line, a blank line; pings are comments', t => {
  const out = reader()
  const s = openSseStream(out, {}, { logger: logCapture().logger })
  t.true(s.send('{"a":1}', { event: 'snapshot' }))
  t.true(s.send('one\ntwo', { id: '7' }))
  t.true(s.ping())
  t.is(out.text(), 'event: snapshot\ndata: {"a":1}\n\nid: 7\ndata: one\ndata: two\n\n: ping\n\n')
})

test('a client that does not read is dropped once its queued bytes would pass the budget, with one log line', t => {
  // Takes the first chunk and never finishes it: what a socket whose peer stopped reading does.
  const out = new Writable({ write () {} })
  const { logger, lines } = logCapture()
  const s = openSseStream(out, { maxBufferedBytes: 1_000 }, { logger })
  let closes = 0
  s.onClose(() => { closes++ })
  const event = 'x'.repeat(400)
  t.true(s.send(event))
  t.true(s.send(event))
  t.false(s.send(event), 'the third would hold more than 1000 bytes')
  t.true(s.closed)
  t.true(out.destroyed, 'its connection is closed')
  t.is(closes, 1)
  t.false(s.send(event))
  t.false(s.ping())
  const warned = lines.filter(l => l.level === 40)
  t.is(warned.length, 1)
  t.is(warned[0]?.code, 'ERR_STREAM_BUDGET')
})

test('a client that keeps up is never dropped, however much goes through', t => {
  const out = reader()
  const s = openSseStream(out, { maxBufferedBytes: 1_000 }, { logger: logCapture().logger })
  for (let i = 0; i < 100; i++) t.true(s.send('x'.repeat(400)))
  t.false(s.closed)
  t.is(out.text().length, 100 * 408)
})

test('close ends the stream once and tells its listeners; a stream whose client went away says closed', async t => {
  const out = reader()
  const s = openSseStream(out, {}, { logger: logCapture().logger })
  let closes = 0
  s.onClose(() => { closes++ })
  s.close()
  s.close()
  t.is(closes, 1)
  t.true(out.writableEnded)
  t.false(s.send('late'))

  const gone = reader()
  const g = openSseStream(gone, {}, { logger: logCapture().logger })
  gone.destroy()
  await new Promise(resolve => { g.onClose(() => { resolve(undefined) }) })
  t.true(g.closed)
  t.false(g.send('late'))
})
