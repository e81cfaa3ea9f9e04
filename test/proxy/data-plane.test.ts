import { Agent, createServer, request, type IncomingHttpHeaders } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'
import { createHash, randomBytes } from 'node:crypto'
import test from 'ava'
import { createCa } from '../../src/proxy/tls/dev-ca.js'
import { retry } from '../helpers/retry.js'
import { appRoute, freePort, httpService, listening, machineAt, rawExchange, startBackend, startDataPlane, startRawBackend, tableOf } from './dp-harness.js'

interface Got { status: number, headers: IncomingHttpHeaders, body: string, json: Record<string, unknown> | null }

async function get (port: number, path: string, headers: Record<string, string> = {}, opts: { agent?: Agent, method?: string, body?: string } = {}): Promise<Got> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers, agent: opts.agent ?? false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString()
        let json: Record<string, unknown> | null = null
        try { json = JSON.parse(body) as Record<string, unknown> } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
      })
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

test('http: requests reach the machine with the forwarding headers, over one kept-alive client connection', async t => {
  const b = await startBackend(t, 'm1')
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [machineAt(b.port)], [httpService(port)])]))
  await listening(dp)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const first = await get(port, '/hello?x=1', { 'x-forwarded-for': '203.0.113.9', 'roost-client-ip': '6.6.6.6' }, { agent })
  t.is(first.status, 200)
  const h = (first.json as { headers: Record<string, string> }).headers
  t.is((first.json as { url: string }).url, '/hello?x=1')
  t.is(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
  t.is(h['roost-client-ip'], '127.0.0.1', 'a client cannot set the router\'s headers')
  t.is(h['x-forwarded-proto'], 'http')
  t.is(h['x-forwarded-port'], String(port))
  t.regex(h['roost-request-id'] ?? '', /^[0-9a-f]{24}-ams$/)
  t.is(h.via, '1.1 roost')
  t.is(first.headers['roost-region'], 'ams')
  t.is(first.headers['roost-request-id'], h['roost-request-id'])
  for (let i = 0; i < 20; i++) t.is((await get(port, `/n${i}`, {}, { agent })).status, 200)
  t.is(b.requests, 21)
  const snap = dp.snapshot()
  t.is(snap.apps[0]?.counters['2xx'], 21)
  t.is(snap.pool.idle, 1, 'one pooled connection to the machine served every request')
})

test('http: request bodies (content-length and chunked) stream through; pipelined requests are answered in order', async t => {
  const b = await startBackend(t, 'm1')
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [machineAt(b.port)], [httpService(port)])]))
  await listening(dp)
  const posted = await get(port, '/p', { 'content-type': 'text/plain' }, { method: 'POST', body: 'x'.repeat(100_000) })
  t.is((posted.json as { body: string }).body.length, 100_000)
  const raw = 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n' +
    'GET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
  const out = await rawExchange(port, raw)
  const bodies = [...out.matchAll(/\{"machine".*?"body":"(.*?)"\}/g)].map(m => m[1])
  t.deepEqual(bodies, ['hello world', ''])
  t.true(out.indexOf('"url":"/c"') < out.indexOf('"url":"/second"'))
})

test('http: apps sharing a port are told apart by Host; an unknown host gets PR02', async t => {
  const a = await startBackend(t, 'a')
  const b = await startBackend(t, 'b')
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('alpha', [machineAt(a.port)], [httpService(port)]), appRoute('beta', [machineAt(b.port)], [httpService(port)], ['www.beta.example'])]))
  await listening(dp)
  t.is((await get(port, '/', { host: 'alpha.roost.test' })).json?.machine, 'a')
  t.is((await get(port, '/', { host: 'beta.roost.test:8080' })).json?.machine, 'b')
  t.is((await get(port, '/', { host: 'WWW.Beta.Example' })).json?.machine, 'b')
  const none = await get(port, '/', { host: 'nobody.example' })
  t.is(none.status, 404)
  t.is(none.headers['roost-error'], 'PR02')
})

test('http: force_https redirects; an unhealthy or cordoned machine receives nothing', async t => {
  const healthy = await startBackend(t, 'healthy')
  const sick = await startBackend(t, 'sick')
  const cordoned = await startBackend(t, 'cordoned')
  const port = await freePort()
  const port2 = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([
    appRoute('web', [machineAt(healthy.port), machineAt(sick.port, { health: 'critical' }), machineAt(cordoned.port, { cordoned: true })], [httpService(port)]),
    appRoute('secure', [machineAt(healthy.port)], [httpService(port2, {}, { forceHttps: true })])
  ]))
  await listening(dp)
  for (let i = 0; i < 30; i++) t.is((await get(port, '/')).json?.machine, 'healthy')
  t.is(sick.requests + cordoned.requests, 0)
  const r = await get(port2, '/path?q=1', { host: 'secure.roost.test' })
  t.is(r.status, 301)
  t.is(r.headers.location, 'https://secure.roost.test/path?q=1')
})

test('http: an ACME http-01 challenge is answered by the router before app matching (even over force_https); other tokens go to the app', async t => {
  const backend = await startBackend(t, 'web')
  const port = await freePort()
  const dp = await startDataPlane(t)
  const token = 'tok_abcdefghijklmnop'
  dp.setRoutes(tableOf([appRoute('secure', [machineAt(backend.port)], [httpService(port, {}, { forceHttps: true })])], { acmeChallenges: { [token]: `${token}.thumb` } }))
  await listening(dp)
  const r = await get(port, `/.well-known/acme-challenge/${token}`, { host: 'secure.roost.test' })
  t.is(r.status, 200)
  t.is(r.body, `${token}.thumb`)
  const other = await get(port, '/.well-known/acme-challenge/unknown', { host: 'secure.roost.test' })
  t.is(other.status, 301, 'not a pending token: the app\'s own handling (here its https redirect)')
  t.is(backend.requests, 0)
})

test('http: a failed connect is retried on another machine; with none left the answer is PR04', async t => {
  const ok = await startBackend(t, 'ok')
  const dead = await freePort()
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [machineAt(dead), machineAt(ok.port, { region: 'syd' })], [httpService(port)])]))
  await listening(dp)
  for (let i = 0; i < 5; i++) t.is((await get(port, '/', { 'roost-prefer-region': 'ams' })).json?.machine, 'ok', 'the closed port is tried first (the preferred region), then the other')
  dp.setRoutes(tableOf([appRoute('web', [machineAt(dead)], [httpService(port)])]))
  const r = await get(port, '/')
  t.is(r.status, 502)
  t.is(r.headers['roost-error'], 'PR04')
  dp.setRoutes(tableOf([appRoute('web', [], [httpService(port)])]))
  t.is((await get(port, '/')).headers['roost-error'], 'PR01')
})

test('router errors are handed over per app and code, summed (what the agent\'s event stream gets); client mistakes are not', async t => {
  const dead = await freePort()
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [machineAt(dead)], [httpService(port)])]))
  await listening(dp)
  for (let i = 0; i < 3; i++) t.is((await get(port, '/')).headers['roost-error'], 'PR04')
  t.regex(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n'), /roost-error: PR10/)
  dp.setRoutes(tableOf([appRoute('web', [], [httpService(port)])]))
  t.is((await get(port, '/')).headers['roost-error'], 'PR01')
  const reports = dp.takeRouterErrors()
  t.deepEqual(reports.map(r => [r.app, r.code, r.count]).sort(), [['web', 'PR01', 1], ['web', 'PR04', 3]])
  t.deepEqual(dp.takeRouterErrors(), [])
})

test('http: the hard limit holds: excess requests wait, then get PR03; the soft limit spreads load', async t => {
  const release: Array<() => void> = []
  const slow = await startBackend(t, 'slow', (_req, res) => { release.push(() => { res.end('done') }); return true })
  const port = await freePort()
  const dp = await startDataPlane(t, { limits: { queueTimeoutMs: 300 } })
  dp.setRoutes(tableOf([appRoute('web', [machineAt(slow.port)], [httpService(port, { concurrency: { type: 'requests', softLimit: 1, hardLimit: 2 } })])]))
  await listening(dp)
  const held = [get(port, '/1'), get(port, '/2')]
  await retry(() => slow.requests === 2, { what: 'two requests at the machine' })
  const third = await get(port, '/3')
  t.is(third.status, 503)
  t.is(third.headers['roost-error'], 'PR03')
  t.regex(third.body, /^PR03: /)
  t.is(slow.requests, 2, 'the machine never saw more than its hard limit')
  const queued = get(port, '/4')
  await new Promise(resolve => setTimeout(resolve, 50))
  release.shift()?.()
  await retry(() => slow.requests === 3, { what: 'the queued request goes once capacity frees' })
  for (const r of release.splice(0)) r()
  await retry(() => { for (const r of release.splice(0)) r(); return false }, { timeoutMs: 200 }).catch(() => {})
  t.is((await queued).status, 200)
  await Promise.all(held)
})

test('http: malformed, oversized and slow requests are refused without disturbing other clients', async t => {
  const b = await startBackend(t, 'm1')
  const port = await freePort()
  const dp = await startDataPlane(t, { limits: { headTimeoutMs: 500, maxHeadBytes: 4096 } })
  dp.setRoutes(tableOf([appRoute('web', [machineAt(b.port)], [httpService(port)])]))
  await listening(dp)
  const slow = connect({ host: '127.0.0.1', port })
  slow.write('GET / HTTP/1.1\r\nHost: a\r\n')
  const smuggle = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n')
  t.regex(smuggle, /^HTTP\/1\.1 400 .*\r\n[\s\S]*roost-error: PR10/)
  t.notRegex(smuggle, /admin/)
  const fold = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n')
  t.regex(fold, /^HTTP\/1\.1 400 /)
  const big = await rawExchange(port, `GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(8000)}\r\n\r\n`)
  t.regex(big, /^HTTP\/1\.1 431 [\s\S]*PR11/)
  t.is((await get(port, '/fine')).status, 200, 'others are served meanwhile')
  const slowAnswer = await new Promise<string>(resolve => {
    const chunks: Buffer[] = []
    slow.on('data', (c: Buffer) => chunks.push(c))
    slow.on('close', () => { resolve(Buffer.concat(chunks).toString()) })
  })
  t.regex(slowAnswer, /^HTTP\/1\.1 408 [\s\S]*PR12/)
  t.is(b.requests, 1, 'only the good request reached the machine')
})

test('tcp: bytes pass through untouched, after a PROXY v1 or v2 header when asked', async t => {
  const plain = await startRawBackend(t)
  const v1 = await startRawBackend(t)
  const v2 = await startRawBackend(t)
  const [p0, p1, p2] = [await freePort(), await freePort(), await freePort()]
  const dp = await startDataPlane(t)
  const svc = (port: number, pp: 0 | 1 | 2) => httpService(port, { concurrency: { type: 'connections', softLimit: 5, hardLimit: 10 } }, { http: false, proxyProto: pp })
  dp.setRoutes(tableOf([
    appRoute('plain', [machineAt(plain.port)], [svc(p0, 0)]),
    appRoute('pv1', [machineAt(v1.port)], [svc(p1, 1)]),
    appRoute('pv2', [machineAt(v2.port)], [svc(p2, 2)])
  ]))
  await listening(dp)
  const payload = Buffer.from([0, 1, 2, 255, 13, 10, 13, 10, 71])
  const echoed = await rawExchange(p0, payload, { untilMs: 500 })
  t.deepEqual(Buffer.from(echoed, 'latin1'), payload)
  await rawExchange(p1, 'hello', { untilMs: 500 })
  t.regex(v1.received().toString('latin1'), /^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nhello$/)
  await rawExchange(p2, 'hello', { untilMs: 500 })
  const got = v2.received()
  t.deepEqual(got.subarray(0, 12), Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), 'the v2 signature')
  t.is(got.subarray(got.byteLength - 5).toString(), 'hello')
})

test('tcp: a connection waits for a starting machine, and is retried while its app does not listen yet', async t => {
  const port = await freePort()
  const appPort = await freePort()
  const dp = await startDataPlane(t)
  const svc = httpService(port, { concurrency: { type: 'connections', softLimit: 5, hardLimit: 10 } }, { http: false })
  const m = machineAt(appPort, { state: 'starting', endpoint: null })
  dp.setRoutes(tableOf([appRoute('echo', [m], [svc])]))
  await listening(dp)
  const exchange = rawExchange(port, 'hello', { untilMs: 10_000 })
  await retry(() => dp.snapshot().waiting === 1, { what: 'the connection waiting' })
  dp.setRoutes(tableOf([appRoute('echo', [{ ...m, state: 'started', endpoint: { host: '127.0.0.1', port: appPort } }], [svc])]))
  await retry(() => (dp.stats().machines[m.id]?.total ?? 0) >= 2, { what: 'connects refused' })
  const echo = createNetServer(s => { s.on('error', () => {}); s.once('data', (d: Buffer) => { s.end(d) }) })
  await new Promise<void>(resolve => echo.listen(appPort, '127.0.0.1', resolve))
  t.teardown(() => { echo.close() })
  t.is(await exchange, 'hello')
})

/** A masked client text frame (mask 0: the payload reads as itself). */
const wsFrame = (text: string, opcode = 0x1): Buffer => Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | text.length, 0, 0, 0, 0]), Buffer.from(text, 'latin1')])
const GOING_AWAY = [0x88, 0x02, 0x03, 0xe9]

async function wsTunnel (t: import('ava').ExecutionContext, onData: (socket: import('node:stream').Duplex, c: Buffer) => void) {
  const b = await startBackend(t, 'ws')
  b.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
    socket.on('data', (c: Buffer) => { onData(socket, c) })
    socket.on('error', () => {})
  })
  const port = await freePort()
  const dp = await startDataPlane(t)
  const m = machineAt(b.port)
  const routes = (cordoned: boolean) => tableOf([appRoute('web', [{ ...m, cordoned }], [httpService(port)])])
  dp.setRoutes(routes(false))
  await listening(dp)
  const s = connect({ host: '127.0.0.1', port })
  const chunks: Buffer[] = []
  const closed = new Promise<void>(resolve => { s.on('close', () => { resolve() }) })
  s.on('data', (c: Buffer) => chunks.push(c))
  s.write('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n')
  await retry(() => Buffer.concat(chunks).toString('latin1').includes('\r\n\r\n'), { what: '101' })
  t.regex(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 101 [\s\S]*upgrade: websocket/i)
  const text = Buffer.concat(chunks).toString('latin1')
  chunks.length = 0
  const rest = text.slice(text.indexOf('\r\n\r\n') + 4)
  if (rest !== '') chunks.push(Buffer.from(rest, 'latin1'))
  return { s, closed, received: () => Buffer.concat(chunks), cordon: () => { dp.setRoutes(routes(true)) } }
}

test('http: a websocket upgrade becomes a tunnel; cordoning its machine closes it with 1001', async t => {
  const ws = await wsTunnel(t, (socket, c) => socket.write(c))
  ws.s.write(wsFrame('ping!'))
  await retry(() => ws.received().toString('latin1').endsWith('ping!'), { what: 'echo through the tunnel' })
  ws.cordon()
  await ws.closed
  t.deepEqual([...ws.received()], [...wsFrame('ping!'), ...GOING_AWAY], 'the echo, then one close frame')
})

test('http: a websocket closed mid-frame gets its close frame after the frame ends; after the machine\'s own close frame, none', async t => {
  const half = await wsTunnel(t, (socket, c) => {
    if (c.toString('latin1').includes('go')) {
      socket.write(Buffer.from([0x82, 10, 1, 2, 3]))
      setTimeout(() => { socket.write(Buffer.from([4, 5, 6, 7, 8, 9, 10, 0x81, 1, 0x41])) }, 300)
    }
  })
  half.s.write(wsFrame('go'))
  await retry(() => half.received().byteLength >= 5, { what: 'the first half of a frame' })
  half.cordon()
  await half.closed
  t.deepEqual([...half.received()], [0x82, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...GOING_AWAY], 'the frame finished, the next one not begun, then the close frame')

  const own = await wsTunnel(t, (socket, c) => {
    if (c.toString('latin1').includes('bye')) socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe8]))
  })
  own.s.write(wsFrame('bye'))
  await retry(() => own.received().byteLength >= 4, { what: 'the machine\'s close frame' })
  own.cordon()
  await own.closed
  t.deepEqual([...own.received()], [0x88, 0x02, 0x03, 0xe8], 'only the machine\'s close frame')

  const stuck = await wsTunnel(t, (socket, c) => {
    if (c.toString('latin1').includes('half')) socket.write(Buffer.from([0x82, 126, 0x10, 0x00, 1, 2]))
  })
  stuck.s.write(wsFrame('half'))
  await retry(() => stuck.received().byteLength >= 6, { what: 'a frame that never ends' })
  stuck.cordon()
  await stuck.closed
  t.deepEqual([...stuck.received()], [0x82, 126, 0x10, 0x00, 1, 2], 'closed without a close frame in the middle of one')
})

test('http: roost-replay sends the request (body included) to the named instance; loops end with PR06', async t => {
  const primary = await startBackend(t, 'primary')
  const replica = await startBackend(t, 'replica', (req, res) => {
    if (req.method !== 'POST') return false
    res.writeHead(409, { 'roost-replay': `instance=${primaryMachine.id}`, 'content-length': '0' })
    res.end()
    return true
  })
  const primaryMachine = machineAt(primary.port, { region: 'lhr' })
  const replicaMachine = machineAt(replica.port)
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [primaryMachine, replicaMachine], [httpService(port)])]))
  await listening(dp)
  // Both machines are local (equally close): the hint makes the write land on the replica first.
  const r = await get(port, '/write', { 'roost-force-instance-id': replicaMachine.id }, { method: 'POST', body: 'payload' })
  t.is(r.json?.machine, 'primary')
  t.is((r.json as { body: string }).body, 'payload')
  t.regex(((r.json as { headers: Record<string, string> }).headers['roost-replay-src']) ?? '', new RegExp(`instance=${replicaMachine.id};region=ams`))
  const loop = await startBackend(t, 'loop', (_req, res) => { res.writeHead(200, { 'roost-replay': 'region=ams', 'content-length': '0' }); res.end(); return true })
  const loop2 = await startBackend(t, 'loop2', (_req, res) => { res.writeHead(200, { 'roost-replay': 'region=ams', 'content-length': '0' }); res.end(); return true })
  dp.setRoutes(tableOf([appRoute('web', [machineAt(loop.port), machineAt(loop2.port)], [httpService(port)])]))
  const l = await get(port, '/')
  t.is(l.headers['roost-error'], 'PR06', 'a replay loop ends after the allowed hops')
})

test('http: no started machine → autostart is requested and the request waits until one is routable', async t => {
  const b = await startBackend(t, 'late')
  const port = await freePort()
  const dp = await startDataPlane(t)
  const m = machineAt(b.port, { state: 'suspended', endpoint: null })
  dp.setRoutes(tableOf([appRoute('web', [m], [httpService(port)])]))
  await listening(dp)
  const asked: string[] = []
  dp.on('autostart', (req) => { asked.push(`${req.app}:${req.reason}`) })
  const pending = get(port, '/')
  await retry(() => asked.length > 0, { what: 'an autostart request' })
  t.deepEqual(asked, ['web:no-started-machine'])
  dp.setRoutes(tableOf([appRoute('web', [{ ...m, state: 'started', endpoint: { host: '127.0.0.1', port: b.port } }], [httpService(port)])]))
  const r = await pending
  t.is(r.status, 200)
  t.is(r.json?.machine, 'late')
})

test('http: a request waits for a machine on its way up or down; a woken machine that refuses connections at first is tried again', async t => {
  const port = await freePort()
  const appPort = await freePort()
  const dp = await startDataPlane(t)
  const asked: string[] = []
  dp.on('autostart', (req) => { asked.push(`${req.app}:${req.reason}`) })
  // Going down (autostop cordons it first): the request waits; once it is down, it is woken.
  const m = machineAt(appPort, { state: 'suspending', cordoned: true, endpoint: null })
  dp.setRoutes(tableOf([appRoute('web', [m], [httpService(port)])]))
  await listening(dp)
  const pending = get(port, '/')
  await retry(() => dp.snapshot().waiting === 1, { what: 'the request waiting' })
  t.deepEqual(asked, [], 'nothing to start yet')
  dp.setRoutes(tableOf([appRoute('web', [{ ...m, state: 'suspended', cordoned: false }], [httpService(port)])]))
  await retry(() => asked.length > 0, { what: 'an autostart request' })
  t.deepEqual(asked, ['web:no-started-machine'])
  // Started, but its app does not listen yet: connects are refused, and tried again.
  dp.setRoutes(tableOf([appRoute('web', [{ ...m, state: 'started', cordoned: false, endpoint: { host: '127.0.0.1', port: appPort } }], [httpService(port)])]))
  await retry(() => (dp.stats().machines[m.id]?.total ?? 0) >= 2, { what: 'connects refused' })
  const server = createServer((_req, res) => { res.end('up at last') })
  await new Promise<void>(resolve => server.listen(appPort, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const r = await pending
  t.is(r.status, 200)
  t.is(r.body, 'up at last')
})

test('http: a woken machine that drops connections before answering (its app still starting) is tried again', async t => {
  const port = await freePort()
  let dropped = 0
  const raw = createNetServer(s => {
    s.on('error', () => {})
    if (dropped < 2) { dropped++; s.destroy(); return }
    s.once('data', () => { s.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nready') })
  })
  await new Promise<void>(resolve => raw.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { raw.close() })
  const appPort = (raw.address() as { port: number }).port
  const dp = await startDataPlane(t)
  const m = machineAt(appPort, { state: 'stopped', endpoint: null })
  dp.setRoutes(tableOf([appRoute('web', [m], [httpService(port)])]))
  await listening(dp)
  const pending = get(port, '/')
  await retry(() => dp.snapshot().waiting === 1, { what: 'the request waiting for an autostart' })
  dp.setRoutes(tableOf([appRoute('web', [{ ...m, state: 'started', endpoint: { host: '127.0.0.1', port: appPort } }], [httpService(port)])]))
  const r = await pending
  t.is(r.status, 200)
  t.is(r.body, 'ready')
  t.is(dropped, 2)
  // Without a wait for an autostart, a dropped connection is the machine's answer: PR09.
  dropped = 0
  const direct = await get(port, '/')
  t.is(direct.status, 502)
  t.is(direct.headers['roost-error'], 'PR09')
})

test('http: a machine that stops again right after an autostart is asked for again by the next request', async t => {
  const b = await startBackend(t, 'again')
  const port = await freePort()
  const dp = await startDataPlane(t)
  const m = machineAt(b.port, { state: 'suspended', endpoint: null })
  const started = { ...m, state: 'started', endpoint: { host: '127.0.0.1', port: b.port } }
  dp.setRoutes(tableOf([appRoute('web', [m], [httpService(port)])]))
  await listening(dp)
  let asked = 0
  dp.on('autostart', () => { asked++ })
  for (let i = 1; i <= 2; i++) {
    const pending = get(port, '/')
    await retry(() => asked === i, { what: `autostart request ${i}` })
    dp.setRoutes(tableOf([appRoute('web', [started], [httpService(port)])]))
    t.is((await pending).status, 200)
    dp.setRoutes(tableOf([appRoute('web', [m], [httpService(port)])]))
  }
  t.is(asked, 2)
})

test('backhaul: a machine on another host is reached through that host\'s router; a refusal there moves on to the next machine', async t => {
  const b = await startBackend(t, 'on-b')
  const local = await startBackend(t, 'local-a', (_req, res) => { res.writeHead(503); res.end(); return true })
  const A = 'a'.repeat(64)
  const B = 'b'.repeat(64)
  const port = await freePort()
  const edge = await startDataPlane(t, { hostId: A })
  const far = await startDataPlane(t, { hostId: B })
  const bound = await far.setBackhaul({ address: '127.0.0.1', port: 0, checkSource: false })
  t.truthy(bound)
  const m = machineAt(b.port, { host: B })
  const ghost = machineAt(1, { host: B })
  far.setRoutes(tableOf([appRoute('web', [m], [httpService(port + 1)])], { hostId: B, listeners: [] }))
  const hosts = { [B]: { id: B, name: 'b', region: 'ams', state: 'alive', rttMs: 1, backhaul: bound } }
  const remote = { ...m, local: false, endpoint: null }
  edge.setRoutes(tableOf([appRoute('web', [remote, { ...ghost, local: false, endpoint: null, remoteInflight: 0 }, machineAt(local.port, { health: 'critical' })], [httpService(port)])], { hosts }))
  await listening(edge)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  for (let i = 0; i < 10; i++) {
    const r = await get(port, `/x${i}`, {}, { agent })
    t.is(r.status, 200)
    t.is(r.json?.machine, 'on-b')
    t.is(r.headers['roost-region'], 'ams')
  }
  const snapFar = far.snapshot()
  t.true(snapFar.backhaul.accepted >= 1)
  t.true(snapFar.backhaul.refused >= 0)
  t.is(b.requests, 10)
  t.is(edge.snapshot().pool.idle, 1, 'the backhaul connection is pooled and reused')
  const refusedBefore = far.snapshot().backhaul.refused
  edge.setRoutes(tableOf([appRoute('web', [{ ...ghost, local: false, endpoint: null }, { ...remote, remoteInflight: 5 }], [httpService(port)])], { hosts }))
  for (let i = 0; i < 5; i++) t.is((await get(port, '/', {}, {})).json?.machine, 'on-b', 'the ghost (not on that host) is refused there, then the next candidate serves')
  t.true(far.snapshot().backhaul.refused > refusedBefore)
})

test('tls: each app gets its certificate by SNI (issued by the CA on demand); a port with one app also serves clients without SNI; unknown names fail the handshake', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-dp-ca-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const ca = await createCa({ name: 'test CA', dir })
  const a = await startBackend(t, 'a')
  const b = await startBackend(t, 'b')
  const [shared, single] = [await freePort(), await freePort()]
  const dp = await startDataPlane(t, { ca })
  const tls = (port: number) => httpService(port, {}, { tls: true, http: true })
  dp.setRoutes(tableOf([
    appRoute('alpha', [machineAt(a.port)], [tls(shared)]),
    appRoute('beta', [machineAt(b.port)], [tls(shared)]),
    appRoute('solo', [machineAt(a.port)], [tls(single)])
  ]))
  await listening(dp)
  const fetchTls = async (port: number, servername: string | undefined): Promise<{ cert: PeerCertificate, body: string }> => await new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ...(servername === undefined ? {} : { servername }), ca: ca.certPem, checkServerIdentity: () => undefined })
    const chunks: Buffer[] = []
    let cert: PeerCertificate | undefined
    s.on('secureConnect', () => { cert = s.getPeerCertificate(); s.write(`GET / HTTP/1.1\r\nHost: ${servername ?? 'x'}\r\nConnection: close\r\n\r\n`) })
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', reject)
    s.on('close', () => { if (cert === undefined) reject(new Error('no handshake')); else resolve({ cert, body: Buffer.concat(chunks).toString() }) })
  })
  const alpha = await fetchTls(shared, 'alpha.roost.test')
  t.is(alpha.cert.subject.CN, 'alpha.roost.test')
  t.regex(alpha.body, /"machine":"a"/)
  t.regex(alpha.body, /"x-forwarded-proto":"https"/)
  const beta = await fetchTls(shared, 'beta.roost.test')
  t.is(beta.cert.subject.CN, 'beta.roost.test')
  t.regex(beta.body, /"machine":"b"/)
  const bare = await fetchTls(single, undefined)
  t.is(bare.cert.subject.CN, 'solo.roost.test', 'no SNI: the only app\'s certificate')
  t.regex(bare.body, /"machine":"a"/)
  await t.throwsAsync(fetchTls(shared, 'nobody.example'), undefined, 'an unknown name gets no certificate')
  await t.throwsAsync(fetchTls(shared, undefined), undefined, 'no SNI on a shared port: no certificate')
})

test('backhaul with a source check: only connections from the address their host publishes are served', async t => {
  const b = await startBackend(t, 'on-b')
  const A = 'a'.repeat(64)
  const B = 'b'.repeat(64)
  const port = await freePort()
  const edge = await startDataPlane(t, { hostId: A })
  const far = await startDataPlane(t, { hostId: B })
  const bound = await far.setBackhaul({ address: '127.0.0.1', port: 0, checkSource: true })
  t.truthy(bound)
  const m = machineAt(b.port, { host: B })
  const farTable = (publishedByA: string): ReturnType<typeof tableOf> => tableOf([appRoute('web', [m], [httpService(port + 1)])], {
    hostId: B, listeners: [], hosts: { [A]: { id: A, name: 'a', region: 'ams', state: 'alive', rttMs: 1, backhaul: { address: publishedByA, port: 4282 } } }
  })
  const hosts = { [B]: { id: B, name: 'b', region: 'ams', state: 'alive', rttMs: 1, backhaul: bound } }
  edge.setRoutes(tableOf([appRoute('web', [{ ...m, local: false, endpoint: null }], [httpService(port)])], { hosts }))
  await listening(edge)

  // The edge dials from 127.0.0.1 but its host's row says 127.0.0.2: a valid header from the wrong place.
  far.setRoutes(farTable('127.0.0.2'))
  const refused = await get(port, '/', {}, {})
  t.is(refused.status, 502)
  t.is(refused.headers['roost-error'], 'PR04')
  t.is(far.snapshot().backhaul.refused, 1)
  t.is(b.requests, 0)

  far.setRoutes(farTable('127.0.0.1'))
  const served = await get(port, '/', {}, {})
  t.is(served.status, 200)
  t.is(served.json?.machine, 'on-b')
  t.is(far.snapshot().backhaul.accepted, 1)
})

test('backhaul: a machine\'s hard limit holds across routers — its host admits each backhauled request, the rest wait and then get PR03', async t => {
  let concurrent = 0
  let peak = 0
  const held: Array<() => void> = []
  const slow = await startBackend(t, 'slow', (_req, res) => {
    concurrent++
    peak = Math.max(peak, concurrent)
    held.push(() => { concurrent--; res.end('done') })
    return true
  })
  const [A, B, C] = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)]
  const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()]
  const limits = { queueTimeoutMs: 600 }
  const edgeA = await startDataPlane(t, { hostId: A, limits })
  const edgeC = await startDataPlane(t, { hostId: C, limits })
  const hostB = await startDataPlane(t, { hostId: B, limits })
  const bound = await hostB.setBackhaul({ address: '127.0.0.1', port: 0, checkSource: false })
  const svc = (port: number) => httpService(port, { concurrency: { type: 'requests', softLimit: 1, hardLimit: 2 } })
  const m = machineAt(slow.port, { host: B })
  hostB.setRoutes(tableOf([appRoute('web', [m], [svc(portB)])], { hostId: B }))
  const hosts = { [B]: { id: B, name: 'b', region: 'ams', state: 'alive', rttMs: 1, backhaul: bound } }
  const remote = { ...m, local: false, endpoint: null }
  edgeA.setRoutes(tableOf([appRoute('web', [remote], [svc(portA)])], { hostId: A, hosts }))
  edgeC.setRoutes(tableOf([appRoute('web', [remote], [svc(portC)])], { hostId: C, hosts }))
  await Promise.all([listening(edgeA), listening(edgeC), listening(hostB)])
  // Each edge alone sees the machine under its limit; together they would send 4.
  const answers = [get(portA, '/1'), get(portC, '/2'), get(portA, '/3'), get(portC, '/4')]
  await retry(() => concurrent === 2, { what: 'two requests at the machine' })
  const refused = await Promise.all(answers.map(async a => await Promise.race([a, new Promise<null>(resolve => setTimeout(() => { resolve(null) }, 1_500))])))
  const codes = refused.filter(r => r !== null).map(r => `${r?.status} ${String(r?.headers['roost-error'])}`)
  t.deepEqual(codes, ['503 PR03', '503 PR03'], 'the two that found the machine full waited, then got PR03')
  t.is(peak, 2, 'the machine never had more than its hard limit in flight')
  for (const r of held.splice(0)) r()
  const done = (await Promise.all(answers)).map(r => r.status).sort()
  t.deepEqual(done, [200, 200, 503, 503])
})

test('http: a machine that closes a fresh connection without answering: an idempotent request goes to another machine, a POST gets PR09', async t => {
  const dropper = createNetServer(s => { s.on('error', () => {}); s.once('data', () => { s.destroy() }) })
  await new Promise<void>(resolve => dropper.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { dropper.close() })
  const ok = await startBackend(t, 'ok')
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [machineAt((dropper.address() as { port: number }).port), machineAt(ok.port, { region: 'syd' })], [httpService(port)])]))
  await listening(dp)
  const got = await get(port, '/', { 'roost-prefer-region': 'ams' })
  t.is(got.json?.machine, 'ok', 'the dropping machine was tried first (preferred region), then the other')
  const posted = await get(port, '/', { 'roost-prefer-region': 'ams' }, { method: 'POST', body: 'x' })
  t.is(posted.status, 502)
  t.is(posted.headers['roost-error'], 'PR09', 'a POST may have been acted on: not sent again')
})

test('http: a large response reaches a slow client intact; a response head split across reads is reassembled (read buffers are reused)', async t => {
  const body = randomBytes(24 * 1024 * 1024)
  const digest = createHash('sha256').update(body).digest('hex')
  const raw = createNetServer(s => {
    s.on('error', () => {})
    s.once('data', (req: Buffer) => {
      if (req.toString('latin1').startsWith('GET /split')) {
        s.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-le')
        setTimeout(() => { s.end('ngth: 5\r\nx-split: yes\r\n\r\nhello') }, 50)
        return
      }
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.byteLength}\r\n\r\n`)
      s.write(body)
    })
  })
  await new Promise<void>(resolve => raw.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { raw.close() })
  const port = await freePort()
  const dp = await startDataPlane(t)
  dp.setRoutes(tableOf([appRoute('web', [machineAt((raw.address() as { port: number }).port)], [httpService(port)])]))
  await listening(dp)
  const split = await get(port, '/split')
  t.is(split.body, 'hello')
  t.is(split.headers['x-split'], 'yes')
  const got = await new Promise<{ hash: string, bytes: number }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/big', agent: false }, res => {
      const hash = createHash('sha256')
      let bytes = 0
      res.on('data', (c: Buffer) => {
        hash.update(c)
        bytes += c.byteLength
        // A slow reader: the router's writes queue up, so read buffers cannot be reused meanwhile.
        res.pause()
        setTimeout(() => { res.resume() }, 2)
      })
      res.on('end', () => { resolve({ hash: hash.digest('hex'), bytes }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
  t.is(got.bytes, body.byteLength)
  t.is(got.hash, digest)
})
