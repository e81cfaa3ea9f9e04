import test from 'ava'
import { connect } from 'node:net'
import { APP, startApi, STARTED, TOKEN } from './fake-backend.js'

interface Answer { status: number, headers: Headers, body: { error: string, code: string, details?: { errors?: Array<{ in: string, path: string, message: string }> } } }

const auth = { authorization: `Bearer ${TOKEN}` }

async function request (url: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url + path, { method, headers: { ...auth, ...headers }, ...(body === undefined ? {} : { body }) })
  return { status: res.status, headers: res.headers, body: await res.json() as Answer['body'] }
}

const json = { 'content-type': 'application/json' }

/** Sends raw bytes on a fresh connection and collects what comes back until the server closes it. */
async function raw (url: string, bytes: string | Buffer, opts: { end?: boolean } = {}): Promise<string> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let out = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => { out += d })
    socket.on('error', reject)
    socket.on('close', () => { resolve(out) })
    socket.setTimeout(20_000, () => { socket.destroy(new Error(`no close; got ${out}`)) })
    socket.write(bytes)
    if (opts.end === true) socket.end()
  })
}

test('schema violations are 400 ERR_INVALID_ARGUMENT listing TypeBox errors', async t => {
  const { url } = await startApi(t)
  const create = `/v1/apps/${APP}/machines`
  const cases: Array<{ body: unknown, path: string }> = [
    { body: { config: { image: 42 } }, path: '/config/image' },
    { body: { config: { image: 'x' }, surprise: true }, path: '/surprise' },
    { body: { config: { image: 'x', guest: { cpus: 0 } } }, path: '/config/guest/cpus' },
    { body: { config: { image: 'x', env: { '1BAD': 'v' } } }, path: '/config/env' },
    { body: { config: { image: 'x', env: { GREETING: 'hi\u0000there' } } }, path: '/config/env/GREETING' },
    { body: {}, path: '/config' },
    { body: [1, 2], path: '' }
  ]
  for (const c of cases) {
    const a = await request(url, 'POST', create, JSON.stringify(c.body), json)
    t.is(a.status, 400, JSON.stringify(c.body))
    t.is(a.body.code, 'ERR_INVALID_ARGUMENT')
    const errors = a.body.details?.errors ?? []
    t.true(errors.length > 0)
    t.true(errors.some(e => e.in === 'body' && e.path.startsWith(c.path) && e.message.length > 0), `${JSON.stringify(errors)} mentions ${c.path}`)
  }
  const stop = await request(url, 'POST', `/v1/apps/${APP}/machines/${STARTED}/stop`, JSON.stringify({ signal: 'SIGHUP' }), json)
  t.is(stop.status, 400)
  const meta = await request(url, 'POST', `/v1/apps/${APP}/machines/${STARTED}/metadata/k`, JSON.stringify({ value: 1 }), json)
  t.is(meta.status, 400)
})

test('a body nested deeper than 32 arrays or objects is 400 ERR_INVALID_JSON before it is parsed; 32 levels, and brackets inside strings, are fine', async t => {
  const { url } = await startApi(t)
  const create = `/v1/apps/${APP}/machines`
  for (const body of ['['.repeat(100_000) + ']'.repeat(100_000), '{"config":' + '{"a":'.repeat(40) + '1' + '}'.repeat(41)]) {
    const a = await request(url, 'POST', create, body, json)
    t.is(a.status, 400)
    t.is(a.body.code, 'ERR_INVALID_JSON')
    t.regex(a.body.error, /deeper than 32/)
  }
  const ok = await request(url, 'POST', create, JSON.stringify({ config: { image: 'x', env: { A: '[[[[' + '{'.repeat(100) + '\\"' } }, extra: JSON.parse('['.repeat(30) + ']'.repeat(30)) }), json)
  t.is(ok.body.code, 'ERR_INVALID_ARGUMENT', 'parsed, then refused by the schema for its extra property')
  t.true((ok.body.details?.errors ?? []).some(e => e.path === '/extra'))
})

test('bad path and query parameters are 400', async t => {
  const { url } = await startApi(t)
  for (const [method, path, where] of [
    ['GET', `/v1/apps/${APP}/machines/not-an-id`, '/id'],
    ['GET', `/v1/apps/${APP}/machines/AAAAAAAAAAAAAA`, '/id'],
    ['POST', `/v1/apps/${APP}/machines/123/start`, '/id'],
    ['GET', '/v1/apps/Bad_App/machines', '/app'],
    ['GET', `/v1/apps/${'a'.repeat(70)}/machines`, '/app'],
    ['DELETE', `/v1/apps/${APP}/machines/${STARTED}/metadata/bad%20key`, '/key'],
    ['GET', `/v1/apps/${APP}/machines/%E0%A4%A`, '/id'],
    ['GET', `/v1/apps/${APP}/machines/${STARTED}/wait?timeout=301`, '/timeout'],
    ['GET', `/v1/apps/${APP}/machines/${STARTED}/wait?timeout=abc`, '/timeout'],
    ['GET', `/v1/apps/${APP}/machines/${STARTED}/wait?state=running`, '/state'],
    ['GET', `/v1/apps/${APP}/machines/${STARTED}/logs?max_bytes=0`, '/max_bytes'],
    ['DELETE', `/v1/apps/${APP}/machines/${STARTED}?force=maybe`, '/force']
  ] as const) {
    const a = await request(url, method, path)
    t.is(a.status, 400, `${method} ${path}`)
    t.is(a.body.code, 'ERR_INVALID_ARGUMENT')
    t.true((a.body.details?.errors ?? []).some(e => e.path === where), `${path}: ${JSON.stringify(a.body.details)}`)
  }
})

test('bodies must be JSON, sent as JSON, and present where required', async t => {
  const { url } = await startApi(t)
  const create = `/v1/apps/${APP}/machines`
  const notJson = await request(url, 'POST', create, '{"config": ', json)
  t.is(notJson.status, 400)
  t.is(notJson.body.code, 'ERR_INVALID_JSON')
  const noType = await request(url, 'POST', create, JSON.stringify({ config: { image: 'x' } }), { 'content-type': '' })
  t.is(noType.status, 400)
  t.is(noType.body.code, 'ERR_UNSUPPORTED_MEDIA_TYPE')
  const textType = await request(url, 'POST', create, JSON.stringify({ config: { image: 'x' } }), { 'content-type': 'text/plain' })
  t.is(textType.status, 400)
  t.is(textType.body.code, 'ERR_UNSUPPORTED_MEDIA_TYPE')
  const withCharset = await request(url, 'POST', create, JSON.stringify({ config: { image: 'x' } }), { 'content-type': 'application/json; charset=utf-8' })
  t.is(withCharset.status, 200)
  const missing = await request(url, 'POST', create)
  t.is(missing.status, 400)
  t.is(missing.body.code, 'ERR_INVALID_ARGUMENT')
  const emptyStop = await request(url, 'POST', `/v1/apps/${APP}/machines/${STARTED}/stop`)
  t.is(emptyStop.status, 200, 'stop takes an optional body')
})

test('oversized bodies are 413 ERR_PAYLOAD_TOO_LARGE, with or without Content-Length', async t => {
  const { url } = await startApi(t, { maxBodyBytes: 4096 })
  const big = JSON.stringify({ config: { image: 'x', env: { A: 'y'.repeat(8000) } } })
  const a = await request(url, 'POST', `/v1/apps/${APP}/machines`, big, json)
  t.is(a.status, 413)
  t.is(a.body.code, 'ERR_PAYLOAD_TOO_LARGE')
  t.is(a.headers.get('connection'), 'close')

  const chunked = await raw(url, `POST /v1/apps/${APP}/machines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
    `${(big.length).toString(16)}\r\n${big}\r\n0\r\n\r\n`)
  t.regex(chunked, /^HTTP\/1\.1 413 /)
  t.true(chunked.includes('ERR_PAYLOAD_TOO_LARGE'))

  const stop = await request(url, 'POST', `/v1/apps/${APP}/machines/${STARTED}/start`, 'x'.repeat(10_000), json)
  t.is(stop.status, 413, 'the limit holds on routes that ignore their body too')
  t.is((await request(url, 'GET', '/v1/health')).status, 200)
})

test('the default limit is 1 MiB; a client sending more gets the 413, not a reset', async t => {
  const { url, client } = await startApi(t)
  const config = { image: 'x', env: { A: 'y'.repeat(4000) } }
  t.is((await request(url, 'POST', `/v1/apps/${APP}/machines`, JSON.stringify({ config }), json)).status, 200)
  for (let i = 0; i < 3; i++) {
    const big = await request(url, 'POST', `/v1/apps/${APP}/machines`, JSON.stringify({ config: { image: 'x', env: { A: 'y'.repeat(2 * 1024 * 1024) } } }), json)
    t.is(big.status, 413)
  }
  t.deepEqual(await client.health(), { ok: true })
})

test('unknown routes are 404, wrong methods 405 with Allow', async t => {
  const { url } = await startApi(t)
  for (const path of ['/', '/v1', '/v1/apps', `/v1/apps/${APP}`, `/v1/apps/${APP}/machines/${STARTED}/explode`, '/v1/health/', `/v1/apps/${APP}/machines/${STARTED}/metadata/a/b`]) {
    const a = await request(url, 'GET', path)
    t.is(a.status, 404, path)
    t.is(a.body.code, 'ERR_NOT_FOUND')
  }
  const put = await request(url, 'PUT', `/v1/apps/${APP}/machines/${STARTED}`, '{}', json)
  t.is(put.status, 405)
  t.is(put.body.code, 'ERR_METHOD_NOT_ALLOWED')
  t.is(put.headers.get('allow'), 'GET, POST, DELETE')
  const getStart = await request(url, 'GET', `/v1/apps/${APP}/machines/${STARTED}/start`)
  t.is(getStart.status, 405)
  t.is(getStart.headers.get('allow'), 'POST')
  t.is((await request(url, 'DELETE', '/v1/health')).status, 405)
})

test('garbage and half requests on the socket do not hurt the server', async t => {
  const { url, client } = await startApi(t)
  const garbage = await raw(url, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a, 0xc1, 0xc1]))
  t.regex(garbage, /^HTTP\/1\.1 400 /)
  t.true(garbage.includes('ERR_BAD_REQUEST'))
  const badVersion = await raw(url, 'GET /v1/health HTTP/9.9\r\n\r\n')
  t.regex(badVersion, /^HTTP\/1\.1 (400|505) /)
  const hugeHeader = await raw(url, `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)
  t.regex(hugeHeader, /^HTTP\/1\.1 431 /)
  const halfClosed = await raw(url, 'GET /v1/heal', { end: true })
  t.true(halfClosed === '' || halfClosed.startsWith('HTTP/1.1 400'), halfClosed)
  const badTarget = await raw(url, `GET http://[::1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`)
  t.regex(badTarget, /^HTTP\/1\.1 (400|404) /)
  const absolute = await raw(url, `GET http://elsewhere/v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`)
  t.regex(absolute, /^HTTP\/1\.1 404 /)
  const doubleSlash = await raw(url, `GET //elsewhere/v1/health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`)
  t.regex(doubleSlash, /^HTTP\/1\.1 404 /)

  // A slow client holding a half-sent request: others are served meanwhile.
  const { hostname, port } = new URL(url)
  const slow = connect(Number(port), hostname)
  t.teardown(() => { slow.destroy() })
  slow.on('error', () => {})
  slow.write(`POST /v1/apps/${APP}/machines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"con`)
  t.deepEqual(await client.health(), { ok: true })
  t.is((await client.list(APP)).length > 0, true)
})

test('a client that never finishes its request is cut off (headers and request timeouts)', async t => {
  const { url, client } = await startApi(t, { headersTimeoutMs: 300, requestTimeoutMs: 600 })
  const slowHeaders = raw(url, `GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthoriz`)
  const slowBody = raw(url, `POST /v1/apps/${APP}/machines HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"con`)
  t.deepEqual(await client.health(), { ok: true })
  t.regex(await slowHeaders, /^HTTP\/1\.1 408 /)
  const body = await slowBody
  t.regex(body, /^HTTP\/1\.1 408 /)
  t.deepEqual(await client.health(), { ok: true })
})
