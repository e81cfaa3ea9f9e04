import test from 'ava'
import { pino } from 'pino'
import type { MemberView } from '../../src/api/control-api.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/runtime/clock.js'
import { buildSnapshot, type StatusInputs, type StatusSnapshot } from '../../src/status-page/snapshot.js'
import { createStatusPageExtension } from '../../src/status-page/status-extension.js'
import { TOKEN, startApi } from '../api/machines/fake-backend.js'
import { retry } from '../helpers/retry.js'

interface SseMessage { event: string, id: string, data: string }
type ReadSse = (url: string, token: string, onMessage: (m: SseMessage) => void, signal?: AbortSignal, onOpen?: () => void) => Promise<void>
// The page's own stream reader (plain browser JavaScript; Node has fetch and TextDecoderStream too).
const pageSse = new URL('../../src/status-page/assets/sse.js', import.meta.url).href
const { readSse } = await import(pageSse) as { readSse: ReadSse }

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const member = (hostId: string, name: string, state: string): MemberView =>
  ({ hostId, name, version: '0.1.0', region: 'fra', addresses: [], state, self: hostId === A, incarnation: 1, rttMs: 1, changedAt: 1, path: 'hyperswarm' })

async function start (t: Parameters<typeof startApi>[0], init: { pingMs?: number } = {}): Promise<{ url: string, inputs: StatusInputs, stop: () => Promise<void> }> {
  const inputs: StatusInputs = { members: [member(A, 'h1', 'alive'), member(B, 'h2', 'alive')], hosts: [], machines: [], services: [], routes: null }
  const extension = createStatusPageExtension({ pollMs: 10, refreshMs: 60_000, pingMs: init.pingMs ?? 60_000 }, {
    snapshot: async () => buildSnapshot(inputs, Date.now()),
    clock: systemClock,
    logger: silentLogger()
  })
  const { url, server } = await startApi(t, { extensions: [extension] })
  return { url, inputs, stop: async () => { await server.stop() } }
}

const auth = { authorization: `Bearer ${TOKEN}` }

test('the page and its files are public; the snapshot needs the token', async t => {
  const { url } = await start(t)
  const page = await fetch(`${url}/status`)
  t.is(page.status, 200)
  t.regex(page.headers.get('content-type') ?? '', /^text\/html/)
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
  t.regex(await page.text(), /<script type="module" src="\/status\/assets\/app.js">/)
  for (const path of ['/status/assets/app.js', '/status/assets/sse.js', '/status/assets/style.css', '/status/vendor/htm-preact.js']) {
    const res = await fetch(`${url}${path}`)
    t.is(res.status, 200, path)
    t.true((await res.text()).length > 100, path)
  }
  t.regex(await (await fetch(`${url}/status/vendor/htm-preact.js`)).text(), /export\{.*html/, 'htm\'s one-module preact')
  t.is((await fetch(`${url}/status/assets/..%2f..%2f..%2fpackage.json`)).status, 404, 'only the listed files are served')
  t.is((await fetch(`${url}/status/assets/nope.js`)).status, 404)
  t.is((await fetch(`${url}/status`, { method: 'POST' })).status, 405)

  t.is((await fetch(`${url}/v1/status`)).status, 401)
  t.is((await fetch(`${url}/v1/status/stream`)).status, 401)
  const res = await fetch(`${url}/v1/status`, { headers: auth })
  t.is(res.status, 200)
  const snap = await res.json() as StatusSnapshot
  t.deepEqual(snap.hosts.map(h => [h.name, h.state]), [['h1', 'alive'], ['h2', 'alive']])
  t.is(snap.self.hostId, A)
})

test('the stream sends a snapshot at once, another when the replica changes, pings, and ends when the server stops', async t => {
  const { url, inputs, stop } = await start(t, { pingMs: 20 })
  const snapshots: StatusSnapshot[] = []
  const raw: string[] = []
  const pings = { n: 0 }
  // Count pings on a second, raw connection: the page's reader skips comments.
  const rawRes = await fetch(`${url}/v1/status/stream`, { headers: auth })
  t.is(rawRes.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  const rawDone = (async () => {
    for await (const chunk of rawRes.body as unknown as AsyncIterable<Uint8Array>) {
      const text = Buffer.from(chunk).toString()
      raw.push(text)
      pings.n += text.split(': ping\n\n').length - 1
    }
  })()
  const ended = readSse(`${url}/v1/status/stream`, TOKEN, m => { if (m.event === 'snapshot') snapshots.push(JSON.parse(m.data) as StatusSnapshot) })
  await retry(() => snapshots.length >= 1, { what: 'the first snapshot' })
  t.deepEqual(snapshots[0]?.hosts.map(h => h.state), ['alive', 'alive'])

  inputs.members = [member(A, 'h1', 'alive'), member(B, 'h2', 'dead')]
  const dead = await retry(() => snapshots.find(s => s.hosts.some(h => h.name === 'h2' && h.state === 'dead')), { what: 'h2 dead on the stream' })
  t.truthy(dead)
  await retry(() => pings.n >= 2, { what: 'pings' })

  await stop()
  await ended
  await rawDone
  t.pass('both streams ended with the server')
})

test('a stream whose client does not read is dropped past its byte budget, with a warning; the server goes on', async t => {
  const warnings: string[] = []
  const logger = pino({ level: 'warn' }, { write (line: string) { warnings.push(line) } })
  let n = 0
  // Every snapshot differs and is big: an unread stream would grow without bound.
  const extension = createStatusPageExtension({ pollMs: 1, maxBufferedBytes: 64 * 1024 }, {
    snapshot: async () => buildSnapshot({ members: [member(A, `h${n++}-${'x'.repeat(16 * 1024)}`, 'alive')], hosts: [], machines: [], services: [], routes: null }, Date.now()),
    clock: systemClock,
    logger
  })
  const { url } = await startApi(t, { extensions: [extension] })
  const res = await fetch(`${url}/v1/status/stream`, { headers: auth })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  // Stop reading: the sockets' buffers fill, then the agent's queue for this client passes its budget.
  await retry(() => warnings.some(l => l.includes('ERR_STREAM_BUDGET')), { timeoutMs: 60_000, what: 'the slow client dropped' })
  const end = await retry(async () => {
    const r = await reader.read().catch(() => ({ done: true }))
    return r.done ? 'ended' : undefined
  }, { timeoutMs: 60_000, intervalMs: 0, what: 'the stream to end' })
  t.is(end, 'ended')
  t.is(warnings.filter(l => l.includes('ERR_STREAM_BUDGET')).length, 1)
  t.is((await fetch(`${url}/v1/status`, { headers: auth })).status, 200)
})
