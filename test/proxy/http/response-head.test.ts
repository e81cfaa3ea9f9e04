import test from 'ava'
import { findHeadEnd } from '../../../src/proxy/http/head-end.js'
import type { ResponseHead } from '../../../src/proxy/http/head-types.js'
import { DEFAULT_HEAD_LIMITS, parseResponseHead } from '../../../src/proxy/http/response-head.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

function parsed (raw: string, method = 'GET'): ResponseHead {
  const r = parseResponseHead(bytes(raw), DEFAULT_HEAD_LIMITS, method)
  if (r.kind !== 'done') throw new Error(`expected a head, got ${JSON.stringify(r)}`)
  return r.head
}

type Expect = Partial<Pick<ResponseHead, 'status' | 'reason' | 'version' | 'framing' | 'keepAlive' | 'upgrade' | 'connectionOptions'>>

const NONE = { kind: 'none' } as const
const CLOSE = { kind: 'close' } as const
const CHUNKED = { kind: 'chunked' } as const

// [name, raw, request method, expected]
const valid: Array<[string, string, string, Expect]> = [
  ['200 with Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'GET',
    { status: 200, reason: 'OK', version: 1, framing: { kind: 'length', length: 5 }, keepAlive: true, upgrade: null, connectionOptions: [] }],
  ['200 without framing fields is close-delimited', 'HTTP/1.1 200 OK\r\nServer: x\r\n\r\n', 'GET', { framing: CLOSE, keepAlive: false }],
  ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET', { framing: CHUNKED, keepAlive: true }],
  ['Chunked mixed case', 'HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n', 'GET', { framing: CHUNKED }],
  ['gzip, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'GET', { framing: CHUNKED }],
  ['codings over two lines ending in chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET', { framing: CHUNKED }],
  ['final coding not chunked: close-delimited', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', 'GET', { framing: CLOSE, keepAlive: false }],
  ['HEAD response with Content-Length has no body', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'HEAD', { framing: NONE, keepAlive: true }],
  ['HEAD response with chunked has no body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HEAD', { framing: NONE }],
  ['HEAD response without framing keeps the connection', 'HTTP/1.1 200 OK\r\n\r\n', 'HEAD', { framing: NONE, keepAlive: true }],
  ['204', 'HTTP/1.1 204 No Content\r\n\r\n', 'DELETE', { status: 204, reason: 'No Content', framing: NONE, keepAlive: true }],
  ['304 with Content-Length', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', 'GET', { framing: NONE }],
  ['100 Continue', 'HTTP/1.1 100 Continue\r\n\r\n', 'PUT', { status: 100, framing: NONE }],
  ['103 Early Hints', 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n', 'GET', { status: 103, framing: NONE }],
  ['101 Switching Protocols', 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n', 'GET',
    { status: 101, framing: NONE, upgrade: 'websocket', keepAlive: false, connectionOptions: ['upgrade'] }],
  ['1.0 with keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n', 'GET', { version: 0, keepAlive: true }],
  ['1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n', 'GET', { version: 0, keepAlive: false }],
  ['1.0 close-delimited', 'HTTP/1.0 200 OK\r\n\r\n', 'GET', { version: 0, framing: CLOSE, keepAlive: false }],
  ['1.1 Connection: close', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n', 'GET', { keepAlive: false, connectionOptions: ['close'] }],
  ['no reason phrase, no SP', 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n', 'GET', { status: 200, reason: '' }],
  ['empty reason phrase', 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n', 'GET', { reason: '' }],
  ['reason with SP, HTAB and obs-text', 'HTTP/1.1 299 Very Fine\tIndeed \xe9\r\nContent-Length: 0\r\n\r\n', 'GET', { status: 299, reason: 'Very Fine\tIndeed \xe9' }],
  ['status 599', 'HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n', 'GET', { status: 599 }],
  ['404 with Content-Length 0', 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 'GET', { status: 404, framing: { kind: 'length', length: 0 } }],
  ['Content-Length with OWS', 'HTTP/1.1 200 OK\r\nContent-Length:  12 \r\n\r\n', 'GET', { framing: { kind: 'length', length: 12 } }]
]

for (const [name, raw, method, expect] of valid) {
  test(`valid: ${name}`, t => {
    const head = parsed(raw, method)
    for (const [k, v] of Object.entries(expect)) t.deepEqual(head[k as keyof ResponseHead], v, k)
    t.is(head.headBytes, raw.length)
    t.is(head.startLineStart, 0)
    t.is(raw.slice(0, head.startLineEnd), raw.slice(0, raw.indexOf('\r\n') + 2))
  })
}

test('response header list and the boundary with the body', t => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 5\r\n\r\n'
  const r = parseResponseHead(bytes(head + 'hello' + 'HTTP/1.1 204 No Content\r\n\r\n'), DEFAULT_HEAD_LIMITS, 'GET')
  if (r.kind !== 'done') return t.fail(r.kind)
  t.is(r.head.headBytes, head.length)
  t.deepEqual(r.head.headers.names, ['content-type', 'set-cookie', 'set-cookie', 'content-length'])
  t.deepEqual(r.head.headers.values, ['text/plain', 'a=1', 'b=2', '5'])
})

const invalid: Array<[string, string, string]> = [
  ['two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', 'bad-status-line'],
  ['four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n', 'bad-status-line'],
  ['status under 100', 'HTTP/1.1 099 X\r\n\r\n', 'bad-status'],
  ['status over 599', 'HTTP/1.1 600 X\r\n\r\n', 'bad-status'],
  ['letters for status', 'HTTP/1.1 abc OK\r\n\r\n', 'bad-status-line'],
  ['double SP before status', 'HTTP/1.1  200 OK\r\n\r\n', 'bad-status-line'],
  ['HTAB before status', 'HTTP/1.1\t200 OK\r\n\r\n', 'bad-status-line'],
  ['HTTP/2 without minor', 'HTTP/2 200\r\n\r\n', 'bad-status-line'],
  ['HTTP/2.0', 'HTTP/2.0 200 OK\r\n\r\n', 'unsupported-version'],
  ['HTTP/1.2', 'HTTP/1.2 200 OK\r\n\r\n', 'unsupported-version'],
  ['lowercase version', 'http/1.1 200 OK\r\n\r\n', 'bad-status-line'],
  ['no version', '200 OK\r\n\r\n', 'bad-status-line'],
  ['status line ended by LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', 'bare-lf'],
  ['status line ended by bare CR', 'HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n', 'bare-cr'],
  ['NUL in reason', 'HTTP/1.1 200 O\x00K\r\n\r\n', 'bad-status-line'],
  ['DEL in reason', 'HTTP/1.1 200 O\x7fK\r\n\r\n', 'bad-status-line'],
  ['leading empty line', '\r\nHTTP/1.1 200 OK\r\n\r\n', 'bad-status-line'],
  ['CL and TE', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 'cl-te-conflict'],
  ['TE and CL', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', 'cl-te-conflict'],
  ['two equal Content-Length lines', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', 'duplicate-content-length'],
  ['two different Content-Length lines', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'duplicate-content-length'],
  ['Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n', 'bad-content-length'],
  ['Content-Length with sign', 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n', 'bad-content-length'],
  ['Content-Length empty', 'HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n', 'bad-content-length'],
  ['chunked not last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 'bad-transfer-encoding'],
  ['chunked twice in a list', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 'bad-transfer-encoding'],
  ['chunked on two lines', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 'bad-transfer-encoding'],
  ['empty coding in a list', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,chunked\r\n\r\n', 'bad-transfer-encoding'],
  ['empty Transfer-Encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n', 'bad-transfer-encoding'],
  ['NBSP after chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\xa0\r\n\r\n', 'bad-transfer-encoding'],
  ['NBSP before chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: \xa0chunked\r\n\r\n', 'bad-transfer-encoding'],
  ['quoted coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: "chunked"\r\n\r\n', 'bad-transfer-encoding'],
  ['Transfer-Encoding in HTTP/1.0', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'te-in-http10'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n', 'obs-fold'],
  ['SP before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', 'space-before-colon'],
  ['NUL in value', 'HTTP/1.1 200 OK\r\nX-A: \x00\r\n\r\n', 'bad-header-value'],
  ['bad field name', 'HTTP/1.1 200 OK\r\nX A: b\r\n\r\n', 'bad-header-name'],
  ['bare LF in fields', 'HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 0\r\n\r\n', 'bare-lf'],
  ['bad Connection', 'HTTP/1.1 200 OK\r\nConnection: "close"\r\n\r\n', 'bad-connection'],
  ['101 without Upgrade', 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n', 'bad-upgrade']
]

for (const [name, raw, code] of invalid) {
  test(`refused with 502: ${name}`, t => {
    t.like(parseResponseHead(bytes(raw), DEFAULT_HEAD_LIMITS, 'GET'), { kind: 'error', status: 502, code })
  })
}

test('limits: 502 for a head over maxHeadBytes or with too many fields; incomplete under the limit', t => {
  const limits = { maxHeadBytes: 100, maxHeaders: 3 }
  t.like(parseResponseHead(bytes('HTTP/1.1 200 OK\r\nX-Pad: ' + 'x'.repeat(100)), limits, 'GET'), { kind: 'error', status: 502, code: 'head-too-large' })
  t.is(parseResponseHead(bytes('HTTP/1.1 200 OK\r\nX-Pad: ' + 'x'.repeat(50)), limits, 'GET').kind, 'incomplete')
  t.like(parseResponseHead(bytes('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n'), limits, 'GET'), { kind: 'error', status: 502, code: 'too-many-headers' })
  t.is(parseResponseHead(bytes('HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n'), limits, 'GET').kind, 'done')
})

test('partial status lines are incomplete', t => {
  for (const raw of ['', 'H', 'HTTP/1.', 'HTTP/1.1', 'HTTP/1.1 ', 'HTTP/1.1 2', 'HTTP/1.1 200', 'HTTP/1.1 200 O', 'HTTP/1.1 200 OK\r',
    'HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r']) {
    t.is(parseResponseHead(bytes(raw), DEFAULT_HEAD_LIMITS, 'GET').kind, 'incomplete', JSON.stringify(raw))
  }
})

test('every valid response fed byte by byte: incomplete until its last byte, then the same head', t => {
  for (const [name, raw, method] of valid) {
    const buf = bytes(raw + 'BODY')
    const whole = parsed(raw, method)
    let scanned = 0
    for (let n = 0; n <= buf.length; n++) {
      const prefix = buf.subarray(0, n)
      const end = findHeadEnd(prefix, scanned)
      scanned = n
      const r = parseResponseHead(prefix, DEFAULT_HEAD_LIMITS, method)
      if (n < raw.length) {
        if (r.kind !== 'incomplete' || end !== -1) t.fail(`${name}: at ${n} bytes got ${r.kind}, findHeadEnd ${end}`)
      } else if (r.kind !== 'done') {
        t.fail(`${name}: at ${n} bytes got ${r.kind}`)
      } else {
        t.deepEqual({ ...r.head, headers: r.head.headers.values }, { ...whole, headers: whole.headers.values })
      }
    }
  }
})

test('every refused response fed byte by byte never parses, and errors the same way', t => {
  for (const [name, raw] of invalid) {
    const buf = bytes(raw)
    const final = parseResponseHead(buf, DEFAULT_HEAD_LIMITS, 'GET')
    for (let n = 0; n < buf.length; n++) {
      const r = parseResponseHead(buf.subarray(0, n), DEFAULT_HEAD_LIMITS, 'GET')
      if (r.kind === 'done') t.fail(`${name}: a prefix of ${n} bytes parsed`)
      if (r.kind === 'error') t.deepEqual(r, final, name)
    }
    t.is(final.kind, 'error')
  }
})
