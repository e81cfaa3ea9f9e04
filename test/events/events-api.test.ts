import { connect } from 'node:net'
import test, { type ExecutionContext } from 'ava'
import { createEventLog, type EventLog } from '../../src/events/event-log.js'
import { createEventsApi, PING_MS, type EventsApi } from '../../src/events/events-api.js'
import type { RoostEvent } from '../../src/events/event-kinds.js'
import { silentLogger } from '../../src/log/logger.js'
import type { Clock } from '../../src/runtime/clock.js'
import { TOKEN, startApi } from '../api/machines/fake-backend.js'
import { retry } from '../helpers/retry.js'

const AUTH = { authorization: `Bearer ${TOKEN}` }

interface ManualClock extends Clock { advance: (ms: number) => void }

function manualClock (): ManualClock {
  let time = 1_700_000_000_000
  let nextId = 1
  const timers = new Map<number, { at: number, fn: () => void }>()
  return {
    now: () => time,
    setTimeout: (fn, ms) => { const id = nextId++; timers.set(id, { at: time + ms, fn }); return id },
    clearTimeout: (h) => { timers.delete(h as number) },
    advance (ms) {
      time += ms
      for (const [id, tm] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (tm.at > time) continue
        timers.delete(id)
        tm.fn()
      }
    }
  }
}

interface Fixture { url: string, log: EventLog, api: EventsApi, clock: ManualClock, stop: () => Promise<void> }

async function setup (t: ExecutionContext, opts: { maxBufferedBytes?: number } = {}): Promise<Fixture> {
  const clock = manualClock()
  const log = createEventLog({ host: 'h1', dir: null }, { logger: silentLogger(), clock })
  await log.start()
  const api = createEventsApi(opts, { events: log, logger: silentLogger(), clock })
  const { url, server } = await startApi(t, { extensions: [api] })
  return { url, log, api, clock, stop: async () => { await server.stop() } }
}

/** Reads server-sent frames from a streaming response. */
function sseReader (res: Response): { next: () => Promise<string>, cancel: () => Promise<void> } {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  return {
    async next () {
      for (;;) {
        const end = buffer.indexOf('\n\n')
        if (end >= 0) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          return frame
        }
        const { value, done } = await reader.read()
        if (done) return ''
        buffer += decoder.decode(value, { stream: true })
      }
    },
    cancel: async () => { await reader.cancel().catch(() => {}) }
  }
}

/** The next event frame, skipping comments; checks the frame's `id` is the event's seq. */
async function nextEvent (t: ExecutionContext, r: ReturnType<typeof sseReader>): Promise<RoostEvent> {
  for (;;) {
    const frame = await r.next()
    if (frame === '') throw new Error('the stream ended')
    if (frame.startsWith(':')) continue
    const m = /^id: (\d+)\ndata: (.*)$/.exec(frame)
    if (m === null) throw new Error(`not an event frame: ${frame}`)
    const e = JSON.parse(m[2] as string) as RoostEvent
    t.is(e.seq, Number(m[1]))
    return e
  }
}

test('GET /v1/events answers the events after `since` as JSON, behind the token; bad input is a typed 400', async t => {
  const { url, log } = await setup(t)
  for (let i = 1; i <= 5; i++) log.record('machine.state', `event ${i}`, { i })
  t.is((await fetch(`${url}/v1/events`)).status, 401)
  const all = await fetch(`${url}/v1/events`, { headers: AUTH })
  t.is(all.status, 200)
  t.regex(all.headers.get('content-type') ?? '', /application\/json/)
  const events = await all.json() as RoostEvent[]
  t.deepEqual(events.map(e => e.seq), [1, 2, 3, 4, 5])
  t.like(events[0], { host: 'h1', kind: 'machine.state', message: 'event 1', data: { i: 1 } })
  t.deepEqual((await (await fetch(`${url}/v1/events?since=2&limit=2`, { headers: AUTH })).json() as RoostEvent[]).map(e => e.seq), [3, 4])
  for (const q of ['since=-1', 'since=abc', 'limit=0', 'limit=100000', 'follow=maybe']) {
    const r = await fetch(`${url}/v1/events?${q}`, { headers: AUTH })
    t.is(r.status, 400, q)
    t.is((await r.json() as { code: string }).code, 'ERR_INVALID_ARGUMENT', q)
  }
  const post = await fetch(`${url}/v1/events`, { method: 'POST', headers: AUTH })
  t.is(post.status, 405)
  t.is((await fetch(`${url}/v1/events`, { headers: AUTH })).status, 200, 'the server keeps answering')
})

test('as server-sent events: the backlog after Last-Event-ID, then new events as recorded, pings, and the end when the server stops', async t => {
  const { url, log, clock, stop, api } = await setup(t)
  for (let i = 1; i <= 5; i++) log.record('host.joined', `h${i} joined`)
  const aborter = new AbortController()
  t.teardown(() => { aborter.abort() })
  const res = await fetch(`${url}/v1/events`, { headers: { ...AUTH, accept: 'text/event-stream', 'last-event-id': '3' }, signal: aborter.signal })
  t.is(res.status, 200)
  t.regex(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  const r = sseReader(res)
  t.is((await nextEvent(t, r)).seq, 4)
  t.is((await nextEvent(t, r)).seq, 5)
  log.record('host.dead', 'h2 is dead')
  t.like(await nextEvent(t, r), { seq: 6, kind: 'host.dead', message: 'h2 is dead' })

  clock.advance(PING_MS)
  t.is(await r.next(), ': ping')

  // follow=true without the Accept header is a stream too, and `since` works like Last-Event-ID.
  const other = await fetch(`${url}/v1/events?follow=true&since=5`, { headers: AUTH, signal: aborter.signal })
  t.regex(other.headers.get('content-type') ?? '', /^text\/event-stream/)
  const r2 = sseReader(other)
  t.is((await nextEvent(t, r2)).seq, 6)
  t.is(api.stats().streams, 2)

  await stop()
  t.is(await r.next(), '', 'the stream ended when the server stopped')
  t.is(await r2.next(), '')
  t.is(api.stats().streams, 0)
})

test('a stream client that does not read is dropped past the byte budget, not buffered forever; others go on', async t => {
  const { url, log, api } = await setup(t, { maxBufferedBytes: 64 * 1024 })
  const { port } = new URL(url)
  const slow = connect(Number(port), '127.0.0.1')
  t.teardown(() => { slow.destroy() })
  await new Promise<void>(resolve => slow.once('connect', resolve))
  slow.write(`GET /v1/events?follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`)
  slow.pause()
  await retry(() => api.stats().streams === 1, { what: 'the stream open' })

  const aborter = new AbortController()
  t.teardown(() => { aborter.abort() })
  const reader = sseReader(await fetch(`${url}/v1/events?follow=true`, { headers: AUTH, signal: aborter.signal }))
  let read = 0
  const keepReading = (async () => { while ((await nextEvent(t, reader).catch(() => null)) !== null) read++ })()

  // Rounds well under the budget: a client that reads keeps up; one that does not falls behind.
  const blob = 'x'.repeat(4 * 1024)
  let recorded = 0
  await retry(() => {
    // Each round fills the socket and then the server's buffer a little more.
    for (let i = 0; i < 8; i++) { log.record('router.error', `error ${recorded}`, { blob }); recorded++ }
    return api.stats().dropped === 1
  }, { timeoutMs: 30_000, intervalMs: 5, what: 'the slow client dropped' })
  t.is(api.stats().streams, 1, 'only the reading client is left')
  const closed = new Promise<void>(resolve => { slow.once('close', () => { resolve() }) })
  slow.resume()
  await closed
  await retry(() => read === recorded, { what: 'the reading client got every event' })
  aborter.abort()
  await keepReading
  t.pass()
})
