import test from 'ava'
import type { RequestHead, ResponseHead } from '../../../src/proxy/http/head-types.js'
import { DEFAULT_HEAD_LIMITS, parseRequestHead } from '../../../src/proxy/http/request-head.js'
import { parseResponseHead } from '../../../src/proxy/http/response-head.js'
import { hopByHop, hopByHopRemover, rewriteRequestHead, rewriteResponseHead } from '../../../src/proxy/http/rewrite-head.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

function request (buf: Buffer, limits = DEFAULT_HEAD_LIMITS): RequestHead {
  const r = parseRequestHead(buf, limits)
  if (r.kind !== 'done') throw new Error(JSON.stringify(r))
  return r.head
}

function response (buf: Buffer, method = 'GET'): ResponseHead {
  const r = parseResponseHead(buf, DEFAULT_HEAD_LIMITS, method)
  if (r.kind !== 'done') throw new Error(JSON.stringify(r))
  return r.head
}

test('request: hop-by-hop lines removed, new lines added, everything else byte for byte, body untouched', t => {
  const head = 'POST /upload?x=1 HTTP/1.1\r\n' +
    'Host: app.example\r\n' +
    'Connection: keep-alive, X-Private\r\n' +
    'Keep-Alive: timeout=5\r\n' +
    'User-Agent:  curl/8.5.0 \r\n' +
    'Proxy-Connection: keep-alive\r\n' +
    'TE: trailers\r\n' +
    'Upgrade: h2c\r\n' +
    'X-Private: secret\r\n' +
    'Transfer-Encoding: chunked\r\n' +
    'Trailer: X-Sum\r\n' +
    'X-Keep: \t1\r\n\r\n'
  const body = '5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n'
  const buf = bytes(head + body)
  const h = request(buf)
  const out = rewriteRequestHead(buf, h, { remove: hopByHopRemover(h), add: 'X-Forwarded-For: 203.0.113.7\r\nVia: 1.1 roost\r\n' })
  t.is(out.toString('latin1'),
    'POST /upload?x=1 HTTP/1.1\r\n' +
    'Host: app.example\r\n' +
    'User-Agent:  curl/8.5.0 \r\n' +
    'Transfer-Encoding: chunked\r\n' +
    'Trailer: X-Sum\r\n' +
    'X-Keep: \t1\r\n' +
    'X-Forwarded-For: 203.0.113.7\r\nVia: 1.1 roost\r\n\r\n')
  const forwarded = Buffer.concat([out, buf.subarray(h.headBytes)])
  t.is(forwarded.toString('latin1').slice(out.length), body)
  const again = request(forwarded)
  t.deepEqual(again.headers.names, ['host', 'user-agent', 'transfer-encoding', 'trailer', 'x-keep', 'x-forwarded-for', 'via'])
  t.deepEqual(again.framing, { kind: 'chunked' })
  t.is(again.headBytes, out.length)
})

test('request: no removals and nothing added gives the head back as received', t => {
  const head = 'GET /a HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B:2\r\n\r\n'
  const buf = bytes(head + 'trailing bytes')
  const out = rewriteRequestHead(buf, request(buf), { remove: () => false, add: '' })
  t.is(out.toString('latin1'), head)
})

test('request: every line removed leaves the start line, the added lines and the end', t => {
  const buf = bytes('GET /a HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n')
  const out = rewriteRequestHead(buf, request(buf), { remove: () => true, add: 'Host: b\r\n' })
  t.is(out.toString('latin1'), 'GET /a HTTP/1.1\r\nHost: b\r\n\r\n')
})

test('request: removals at the start, middle and end, in runs', t => {
  const names = ['A', 'B', 'C', 'D', 'E', 'F', 'G']
  const buf = bytes(`GET / HTTP/1.1\r\nHost: h\r\n${names.map(n => `${n}: ${n.toLowerCase()}\r\n`).join('')}\r\n`)
  const h = request(buf)
  for (let mask = 0; mask < 1 << names.length; mask++) {
    const drop = new Set(names.filter((_, i) => (mask & (1 << i)) !== 0).map(n => n.toLowerCase()))
    const out = rewriteRequestHead(buf, h, { remove: n => drop.has(n), add: 'Z: z\r\n' }).toString('latin1')
    const expected = `GET / HTTP/1.1\r\nHost: h\r\n${names.filter(n => !drop.has(n.toLowerCase())).map(n => `${n}: ${n.toLowerCase()}\r\n`).join('')}Z: z\r\n\r\n`
    if (out !== expected) t.fail(`mask ${mask}: ${JSON.stringify(out)}`)
  }
  t.pass()
})

test('request: the request line can be replaced; leading empty lines are not forwarded', t => {
  const buf = bytes('\r\n\r\nGET http://app.example/p?q HTTP/1.1\r\nHost: app.example\r\n\r\n')
  const h = request(buf)
  t.is(rewriteRequestHead(buf, h, { remove: () => false, add: '', requestLine: 'GET /p?q HTTP/1.1' }).toString('latin1'),
    'GET /p?q HTTP/1.1\r\nHost: app.example\r\n\r\n')
  t.is(rewriteRequestHead(buf, h, { remove: () => false, add: '' }).toString('latin1'),
    'GET http://app.example/p?q HTTP/1.1\r\nHost: app.example\r\n\r\n')
})

test('request: more header lines than the scratch space holds', t => {
  const limits = { maxHeadBytes: 65536, maxHeaders: 1000 }
  const lines = Array.from({ length: 600 }, (_, i) => `X-${i}: ${i}\r\n`)
  const buf = bytes(`GET / HTTP/1.1\r\nHost: a\r\n${lines.join('')}\r\n`)
  const h = request(buf, limits)
  const out = rewriteRequestHead(buf, h, { remove: n => n.endsWith('7'), add: '' }).toString('latin1')
  t.is(out, `GET / HTTP/1.1\r\nHost: a\r\n${lines.filter((_, i) => !String(i).endsWith('7')).join('')}\r\n`)
})

test('added lines must be whole CRLF-terminated lines; a replaced start line must be one line', t => {
  const buf = bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n')
  const h = request(buf)
  t.throws(() => rewriteRequestHead(buf, h, { remove: () => false, add: 'X-A: 1' }), { instanceOf: TypeError })
  t.throws(() => rewriteRequestHead(buf, h, { remove: () => false, add: 'X-A: 1\n' }), { instanceOf: TypeError })
  t.throws(() => rewriteRequestHead(buf, h, { remove: () => false, add: '', requestLine: 'GET / HTTP/1.1\r\nX-Injected: 1' }), { instanceOf: TypeError })
  t.throws(() => rewriteRequestHead(buf, h, { remove: () => false, add: '', requestLine: 'GET /\n HTTP/1.1' }), { instanceOf: TypeError })
})

test('response: hop-by-hop lines removed, status line kept or replaced, body untouched', t => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 5\r\n\r\n'
  const buf = bytes(head + 'hello')
  const h = response(buf)
  const out = rewriteResponseHead(buf, h, { remove: hopByHopRemover(h), add: 'Roost-Region: ams\r\n' })
  t.is(out.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nRoost-Region: ams\r\n\r\n')
  t.is(Buffer.concat([out, buf.subarray(h.headBytes)]).toString('latin1').slice(out.length), 'hello')
  t.is(rewriteResponseHead(buf, h, { remove: () => false, add: '', requestLine: 'HTTP/1.1 200 Fine' }).toString('latin1').split('\r\n')[0], 'HTTP/1.1 200 Fine')
})

test('hopByHop: the fixed set, plus what Connection names', t => {
  const plain = request(bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n'))
  t.deepEqual([...hopByHop(plain)].sort(), ['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade'])
  const named = request(bytes('GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-A\r\nConnection: X-B\r\n\r\n'))
  t.deepEqual([...hopByHop(named)].sort(), ['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'x-a', 'x-b'])
})

test('hopByHop: Connection cannot make framing or routing fields hop-by-hop', t => {
  const raw = 'POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Transfer-Encoding, Host, close\r\nContent-Length: 3\r\n\r\nabc'
  const buf = bytes(raw)
  const h = request(buf)
  const set = hopByHop(h)
  t.false(set.has('content-length'))
  t.false(set.has('transfer-encoding'))
  t.false(set.has('host'))
  const out = rewriteRequestHead(buf, h, { remove: hopByHopRemover(h), add: '' }).toString('latin1')
  t.is(out, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n')
})

test('hopByHop: an upgrade keeps Upgrade (the caller adds its own Connection: upgrade)', t => {
  const ws = request(bytes('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n'))
  t.is(ws.upgrade, 'websocket')
  t.false(hopByHop(ws).has('upgrade'))
  t.true(hopByHop(ws).has('connection'))
  const sw = response(bytes('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'))
  t.false(hopByHop(sw).has('upgrade'))
  const notUpgrading = request(bytes('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n'))
  t.true(hopByHop(notUpgrading).has('upgrade'))
})

test('hopByHopRemover agrees with hopByHop', t => {
  const heads = [
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a, upgrade\r\nUpgrade: websocket\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a, content-length, te\r\n\r\n',
    'GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n'
  ]
  const names = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
    'content-length', 'x-a', 'x-b', 'close', 'user-agent']
  for (const raw of heads) {
    const h = request(bytes(raw))
    const set = hopByHop(h)
    const remove = hopByHopRemover(h)
    for (const n of names) t.is(remove(n), set.has(n), `${JSON.stringify(raw)}: ${n}`)
  }
})
