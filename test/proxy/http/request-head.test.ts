import test from 'ava'
import { findHeadEnd } from '../../../src/proxy/http/head-end.js'
import type { ParseResult, RequestHead } from '../../../src/proxy/http/head-types.js'
import { DEFAULT_HEAD_LIMITS, originFormTarget, parseRequestHead } from '../../../src/proxy/http/request-head.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')
const get = (target = '/', extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: example.com\r\n${extra}\r\n`

function parsed (raw: string | Buffer): RequestHead {
  const r = parseRequestHead(typeof raw === 'string' ? bytes(raw) : raw, DEFAULT_HEAD_LIMITS)
  if (r.kind !== 'done') throw new Error(`expected a head, got ${JSON.stringify(r)}`)
  return r.head
}

type Expect = Partial<Pick<RequestHead, 'method' | 'target' | 'targetForm' | 'version' | 'host' | 'framing' | 'keepAlive' | 'upgrade' | 'expectContinue' | 'connectionOptions' | 'startLineStart'>>

const valid: Array<[string, string, Expect]> = [
  ['minimal 1.1', 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n',
    { method: 'GET', target: '/', targetForm: 'origin', version: 1, host: 'example.com', framing: { kind: 'none' }, keepAlive: true, upgrade: null, expectContinue: false, connectionOptions: [] }],
  ['1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', { version: 0, host: null, keepAlive: false }],
  ['1.0 keep-alive', 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { version: 0, keepAlive: true, connectionOptions: ['keep-alive'] }],
  ['1.0 Keep-Alive mixed case', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', { keepAlive: true }],
  ['1.0 keep-alive and close', 'GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n', { keepAlive: false }],
  ['1.1 close', get('/', 'Connection: close\r\n'), { keepAlive: false, connectionOptions: ['close'] }],
  ['1.1 CLOSE', get('/', 'Connection: CLOSE\r\n'), { keepAlive: false }],
  ['1.1 close in a later Connection line', get('/', 'Connection: keep-alive\r\nConnection: close\r\n'), { keepAlive: false, connectionOptions: ['keep-alive', 'close'] }],
  ['Connection list with empty elements and OWS', get('/', 'Connection: , ,\tX-Foo ,close,\r\n'), { keepAlive: false, connectionOptions: ['x-foo', 'close'] }],
  ['POST with Content-Length', 'POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n', { method: 'POST', framing: { kind: 'length', length: 5 } }],
  ['Content-Length 0', get('/', 'Content-Length: 0\r\n'), { framing: { kind: 'length', length: 0 } }],
  ['Content-Length with OWS', get('/', 'Content-Length: \t 42 \t\r\n'), { framing: { kind: 'length', length: 42 } }],
  ['Content-Length with leading zeros', get('/', 'Content-Length: 007\r\n'), { framing: { kind: 'length', length: 7 } }],
  ['Content-Length = MAX_SAFE_INTEGER', get('/', 'Content-Length: 9007199254740991\r\n'), { framing: { kind: 'length', length: Number.MAX_SAFE_INTEGER } }],
  ['content-length lowercase name', get('/', 'content-length: 3\r\n'), { framing: { kind: 'length', length: 3 } }],
  ['chunked', get('/', 'Transfer-Encoding: chunked\r\n'), { framing: { kind: 'chunked' } }],
  ['CHUNKED', get('/', 'Transfer-Encoding: CHUNKED\r\n'), { framing: { kind: 'chunked' } }],
  ['chunked with OWS', get('/', 'Transfer-Encoding:\t chunked \t\r\n'), { framing: { kind: 'chunked' } }],
  ['TRANSFER-ENCODING name', get('/', 'TRANSFER-ENCODING: chunked\r\n'), { framing: { kind: 'chunked' } }],
  ['Host lowercased, port kept', 'GET / HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n', { host: 'example.com:8080' }],
  ['Host IPv6 literal', 'GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n', { host: '[::1]:8080' }],
  ['Host IPv6 with embedded IPv4', 'GET / HTTP/1.1\r\nHost: [::ffff:127.0.0.1]\r\n\r\n', { host: '[::ffff:127.0.0.1]' }],
  ['Host IPv4', 'GET / HTTP/1.1\r\nHost: 127.0.0.1:65535\r\n\r\n', { host: '127.0.0.1:65535' }],
  ['Host empty', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', { host: '' }],
  ['Host empty with OWS', 'GET / HTTP/1.1\r\nHost:   \r\n\r\n', { host: '' }],
  ['Host reg-name characters', "GET / HTTP/1.1\r\nHost: a-b_c~d.e!$&'()*+,;=%41\r\n\r\n", { host: "a-b_c~d.e!$&'()*+,;=%41" }],
  ['Host trailing dot', 'GET / HTTP/1.1\r\nHost: example.com.\r\n\r\n', { host: 'example.com.' }],
  ['absolute-form takes Host from the target', 'GET http://Target.Example:8080/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n',
    { targetForm: 'absolute', target: 'http://Target.Example:8080/p?q=1', host: 'target.example:8080' }],
  ['absolute-form https without path', 'GET HTTPS://a.b HTTP/1.1\r\nHost: a.b\r\n\r\n', { targetForm: 'absolute', host: 'a.b' }],
  ['absolute-form with query only', 'GET http://a.b?x HTTP/1.1\r\nHost: a.b\r\n\r\n', { host: 'a.b' }],
  ['absolute-form in 1.0 without Host', 'GET http://a.b/ HTTP/1.0\r\n\r\n', { host: 'a.b', version: 0 }],
  ['asterisk-form with OPTIONS', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'OPTIONS', target: '*', targetForm: 'asterisk' }],
  ['one leading empty line', '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', { startLineStart: 2 }],
  ['two leading empty lines', '\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', { startLineStart: 4 }],
  ['websocket upgrade', get('/ws', 'Connection: Upgrade\r\nUpgrade: WebSocket\r\n'), { upgrade: 'websocket', keepAlive: true }],
  ['upgrade among Connection options', get('/ws', 'Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n'), { upgrade: 'websocket' }],
  ['Upgrade without Connection: upgrade', get('/', 'Upgrade: websocket\r\n'), { upgrade: null }],
  ['Connection: upgrade without Upgrade', get('/', 'Connection: upgrade\r\n'), { upgrade: null }],
  ['upgrade ignored in 1.0', 'GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n', { upgrade: null }],
  ['Expect: 100-continue', 'PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 10\r\n\r\n', { expectContinue: true, method: 'PUT' }],
  ['Expect ignored in 1.0', 'PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n', { expectContinue: false }],
  ['other Expect', get('/', 'Expect: something\r\n'), { expectContinue: false }],
  ['extension method', 'PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'PURGE' }],
  ['method with tchar symbols', "M-SEARCH!#$%&'*+.^_`|~ /x HTTP/1.1\r\nHost: a\r\n\r\n", { method: "M-SEARCH!#$%&'*+.^_`|~" }],
  ['lowercase method is another method', 'get / HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'get' }],
  ['target with every VCHAR', 'GET /!"#$%&\'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~ HTTP/1.1\r\nHost: a\r\n\r\n',
    { target: '/!"#$%&\'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~' }],
  ['many methods', 'DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'DELETE' }],
  ['PATCH', 'PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'PATCH' }],
  ['HEAD', 'HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'HEAD' }],
  ['TRACE', 'TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n', { method: 'TRACE' }],
  ['a field named like a framing field with other characters', get('/', 'Content-Lengthy: x\r\nX-Transfer-Encoding: gzip\r\n'), { framing: { kind: 'none' } }]
]

for (const [name, raw, expect] of valid) {
  test(`valid: ${name}`, t => {
    const head = parsed(raw)
    for (const [k, v] of Object.entries(expect)) t.deepEqual(head[k as keyof RequestHead], v, k)
    t.is(head.headBytes, raw.length)
  })
}

test('header list: lowercased names, OWS-trimmed values, raw line offsets, get', t => {
  const raw = 'GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\t1\t\r\nUser-Agent:   curl/8  \r\nX-Latin1: caf\xe9\r\n' +
    "x!#$%&'*+-.^_`|~: odd\r\nAccept:x\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n"
  const head = parsed(raw)
  const h = head.headers
  t.deepEqual(h.names, ['host', 'x-empty', 'x-tab', 'user-agent', 'x-latin1', "x!#$%&'*+-.^_`|~", 'accept', 'x-dup', 'x-dup'])
  t.deepEqual(h.values, ['a', '', 'v\t1', 'curl/8', 'caf\xe9', 'odd', 'x', '1', '2'])
  t.is(h.get('x-dup'), '1')
  t.is(h.get('user-agent'), 'curl/8')
  t.is(h.get('absent'), undefined)
  const buf = bytes(raw)
  const lines = raw.slice(raw.indexOf('\r\n') + 2, -2).split(/(?<=\r\n)/)
  t.is(h.lineStart.length, lines.length)
  for (let i = 0; i < lines.length; i++) {
    t.is(buf.toString('latin1', h.lineStart[i], h.lineEnd[i]), lines[i]!)
    t.is(buf.toString('latin1', h.valueStart[i], h.valueEnd[i]), h.values[i]!)
  }
  t.is(head.startLineStart, 0)
  t.is(buf.toString('latin1', head.startLineStart, head.startLineEnd), 'GET / HTTP/1.1\r\n')
})

test('values decode lazily and get() agrees with values', t => {
  const head = parsed(get('/', 'A: 1\r\nB: 2\r\n'))
  t.is(head.headers.get('b'), '2')
  t.deepEqual(head.headers.values, ['example.com', '1', '2'])
  t.is(head.headers.get('a'), '1')
})

test('originFormTarget: the path and query of an absolute-form target', t => {
  const target = (raw: string): string => originFormTarget(parsed(`GET ${raw} HTTP/1.1\r\nHost: a\r\n\r\n`))
  t.is(target('http://a.b/p/q?x=1'), '/p/q?x=1')
  t.is(target('http://a.b'), '/')
  t.is(target('HTTPS://a.b:8443?x'), '/?x')
  t.is(target('/already?x'), '/already?x')
  t.is(originFormTarget(parsed('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n')), '*')
})

test('a request followed by the next bytes: headBytes is the boundary', t => {
  const first = 'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n'
  const rest = 'abcGET /b HTTP/1.1\r\nHost: a\r\n\r\n'
  const buf = bytes(first + rest)
  const head = parsed(buf)
  t.is(head.headBytes, first.length)
  t.deepEqual(head.framing, { kind: 'length', length: 3 })
  const second = parsed(buf.subarray(head.headBytes + 3))
  t.is(second.target, '/b')
  t.is(second.headBytes, rest.length - 3)
})

test('the same head parsed twice gives equal results (no state leaks between calls)', t => {
  const raw = get('/x', 'Connection: close, X-A\r\nX-Custom-Name: 1\r\n')
  const a = parsed(raw)
  parsed(get('/', 'X-Other: 2\r\n'))
  const b = parsed(raw)
  t.deepEqual({ ...a, headers: a.headers.values }, { ...b, headers: b.headers.values })
})

test('names and hosts whose hashes collide are told apart', t => {
  // 'b_' and 'a~' have the same hash (98*31+95 = 97*31+126); so do names and hosts that end in them.
  const first = parsed('GET / HTTP/1.1\r\nHost: b_.example\r\nX-b_: 1\r\n\r\n')
  const second = parsed('GET / HTTP/1.1\r\nHost: a~.example\r\nX-a~: 2\r\n\r\n')
  t.is(first.host, 'b_.example')
  t.is(second.host, 'a~.example')
  t.deepEqual(first.headers.names, ['host', 'x-b_'])
  t.deepEqual(second.headers.names, ['host', 'x-a~'])
  t.is(parsed('GET / HTTP/1.1\r\nHost: b_.example\r\nX-B_: 1\r\n\r\n').headers.names[1], 'x-b_')
})

test('fresh field names and hosts beyond the caches still parse right', t => {
  for (let i = 0; i < 3000; i++) {
    const head = parsed(`GET / HTTP/1.1\r\nHost: H${i}.Example\r\nX-Name-${i}: ${i}\r\nX-NAME-${i}b: b\r\n\r\n`)
    t.is(head.host, `h${i}.example`)
    t.deepEqual(head.headers.names, ['host', `x-name-${i}`, `x-name-${i}b`])
    if (head.headers.get(`x-name-${i}`) !== String(i)) t.fail(`value of x-name-${i}`)
  }
})

type ErrorCase = [string, string, number, string]

/** Refusals: [name, raw head, status, code]. */
const invalid: ErrorCase[] = [
  // request line
  ['double SP after method', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-request-line'],
  ['double SP after target', 'GET /  HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-version'],
  ['trailing SP after version', 'GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 400, 'bad-version'],
  ['leading SP', ' GET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-request-line'],
  ['HTAB separator', 'GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-method'],
  ['non-token method', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-method'],
  ['method with NUL', 'GE\x00T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-method'],
  ['lowercase version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400, 'bad-version'],
  ['version with three digits', 'GET / HTTP/1.10\r\nHost: a\r\n\r\n', 400, 'bad-version'],
  ['version without minor', 'GET / HTTP/1\r\nHost: a\r\n\r\n', 400, 'bad-version'],
  ['HTTP/0.9 request line', 'GET /\r\n\r\n', 400, 'bad-target'],
  ['request line ended by LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 400, 'bad-version'],
  ['request line ended by CR alone', 'GET / HTTP/1.1\rHost: a\r\n\r\n', 400, 'bad-version'],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'unsupported-version'],
  ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505, 'unsupported-version'],
  ['HTTP/0.9 with version', 'GET / HTTP/0.9\r\nHost: a\r\n\r\n', 505, 'unsupported-version'],
  ['HTTP/3.1', 'GET / HTTP/3.1\r\nHost: a\r\n\r\n', 505, 'unsupported-version'],
  ['target with non-ASCII', 'GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['target with DEL', 'GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['target with NUL', 'GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['target with HTAB', 'GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['target with LF', 'GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bare-lf'],
  ['asterisk with GET', 'GET * HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['asterisk plus more', 'OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['authority-form without CONNECT', 'GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['relative path', 'GET a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['absolute-form other scheme', 'GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['absolute-form empty host', 'GET http:///b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['absolute-form nothing after scheme', 'GET http:// HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['absolute-form userinfo', 'GET http://user:pw@a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['absolute-form bad port', 'GET http://a:99999/ HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
  ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 501, 'connect-unsupported'],
  ['three leading empty lines', '\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'too-many-empty-lines'],
  ['leading bare LF', '\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bare-lf'],
  ['leading bare CR', '\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bare-cr'],
  ['empty request line after CRLF', '\r\n \r\n\r\n', 400, 'bad-request-line'],
  // field lines
  ['obs-fold with SP', get('/', 'X-A: a\r\n b\r\n'), 400, 'obs-fold'],
  ['obs-fold with HTAB', get('/', 'X-A: a\r\n\tb\r\n'), 400, 'obs-fold'],
  ['obs-fold right after the request line', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', 400, 'obs-fold'],
  ['SP before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400, 'space-before-colon'],
  ['HTAB before colon', 'GET / HTTP/1.1\r\nHost\t: a\r\n\r\n', 400, 'space-before-colon'],
  ['line without colon', get('/', 'X-Foo\r\n'), 400, 'bad-header'],
  ['empty field name', get('/', ': x\r\n'), 400, 'bad-header-name'],
  ['non-token field name', get('/', '(X: y\r\n'), 400, 'bad-header-name'],
  ['non-ASCII field name', get('/', 'X-\xe9: y\r\n'), 400, 'bad-header-name'],
  ['NUL in field name', get('/', 'X\x00A: y\r\n'), 400, 'bad-header-name'],
  ['NUL in value', get('/', 'X-A: a\x00b\r\n'), 400, 'bad-header-value'],
  ['DEL in value', get('/', 'X-A: a\x7fb\r\n'), 400, 'bad-header-value'],
  ['SOH in value', get('/', 'X-A: \x01\r\n'), 400, 'bad-header-value'],
  ['VT in value', get('/', 'X-A: a\x0bb\r\n'), 400, 'bad-header-value'],
  ['FF in value', get('/', 'X-A: a\x0cb\r\n'), 400, 'bad-header-value'],
  ['ESC in value', get('/', 'X-A: a\x1bb\r\n'), 400, 'bad-header-value'],
  ['bare LF inside a value', get('/', 'X-A: a\nX-B: b\r\n'), 400, 'bare-lf'],
  ['bare CR inside a value', get('/', 'X-A: a\rb\r\n'), 400, 'bare-cr'],
  ['field line ended by LF', 'GET / HTTP/1.1\r\nHost: a\n\r\n', 400, 'bare-lf'],
  ['head ended by LF LF', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 400, 'bare-lf'],
  ['head ended by CR CR', 'GET / HTTP/1.1\r\nHost: a\r\n\r\r\n', 400, 'bare-cr'],
  ['all LF line endings', 'GET / HTTP/1.1\nHost: a\n\n', 400, 'bad-version'],
  ['CR CR LF line ending', 'GET / HTTP/1.1\r\nHost: a\r\r\n\r\n', 400, 'bare-cr'],
  // Host
  ['1.1 without Host', 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n', 400, 'missing-host'],
  ['1.1 absolute-form without Host', 'GET http://a/ HTTP/1.1\r\n\r\n', 400, 'missing-host'],
  ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', 400, 'duplicate-host'],
  ['two different Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n', 400, 'duplicate-host'],
  ['two Host fields in 1.0', 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'duplicate-host'],
  ['Host with SP', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400, 'bad-host'],
  ['Host with slash', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400, 'bad-host'],
  ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', 400, 'bad-host'],
  ['Host with empty port', 'GET / HTTP/1.1\r\nHost: a:\r\n\r\n', 400, 'bad-host'],
  ['Host with port over 65535', 'GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n', 400, 'bad-host'],
  ['Host with six-digit port', 'GET / HTTP/1.1\r\nHost: a:000080\r\n\r\n', 400, 'bad-host'],
  ['Host with non-digit port', 'GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n', 400, 'bad-host'],
  ['Host with two ports', 'GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n', 400, 'bad-host'],
  ['Host port only', 'GET / HTTP/1.1\r\nHost: :80\r\n\r\n', 400, 'bad-host'],
  ['Host unclosed bracket', 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', 400, 'bad-host'],
  ['Host bracket with non-hex', 'GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n', 400, 'bad-host'],
  ['Host IPvFuture', 'GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n', 400, 'bad-host'],
  ['Host with junk after bracket', 'GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n', 400, 'bad-host'],
  ['Host non-ASCII', 'GET / HTTP/1.1\r\nHost: caf\xe9.com\r\n\r\n', 400, 'bad-host'],
  ['Host bad pct-encoding', 'GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n', 400, 'bad-host'],
  ['Host truncated pct-encoding', 'GET / HTTP/1.1\r\nHost: a%4\r\n\r\n', 400, 'bad-host'],
  ['Host with HTAB inside', 'GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n', 400, 'bad-host'],
  ['Host with backslash', 'GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n', 400, 'bad-host'],
  // Connection
  ['Connection with a quoted string', get('/', 'Connection: "close"\r\n'), 400, 'bad-connection'],
  ['Connection with SP inside a token', get('/', 'Connection: keep alive\r\n'), 400, 'bad-connection'],
  ['Connection with a slash', get('/', 'Connection: a/b\r\n'), 400, 'bad-connection']
]

/** Request smuggling vectors (CL.TE, TE.CL, TE.TE and friends): all refused. */
const smuggling: ErrorCase[] = [
  ['CL.TE: Content-Length then Transfer-Encoding', get('/', 'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n'), 400, 'cl-te-conflict'],
  ['TE.CL: Transfer-Encoding then Content-Length', get('/', 'Transfer-Encoding: chunked\r\nContent-Length: 6\r\n'), 400, 'cl-te-conflict'],
  ['CL.TE with an unknown coding', get('/', 'Content-Length: 6\r\nTransfer-Encoding: gzip\r\n'), 400, 'cl-te-conflict'],
  ['TE.TE: xchunked', get('/', 'Transfer-Encoding: xchunked\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: chunkedx', get('/', 'Transfer-Encoding: chunkedx\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: SP before colon', get('/', 'Transfer-Encoding : chunked\r\n'), 400, 'space-before-colon'],
  ['TE.TE: second TE line', get('/', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n'), 400, 'duplicate-transfer-encoding'],
  ['TE.TE: same TE line twice', get('/', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n'), 400, 'duplicate-transfer-encoding'],
  ['TE.TE: chunked twice in a list', get('/', 'Transfer-Encoding: chunked, chunked\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: chunked not last', get('/', 'Transfer-Encoding: chunked, gzip\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: identity', get('/', 'Transfer-Encoding: identity\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: gzip alone', get('/', 'Transfer-Encoding: gzip\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: quoted chunked', get('/', 'Transfer-Encoding: "chunked"\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: trailing comma', get('/', 'Transfer-Encoding: chunked,\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: leading comma', get('/', 'Transfer-Encoding: , chunked\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: empty value', get('/', 'Transfer-Encoding:\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: chunked with a parameter', get('/', 'Transfer-Encoding: chunked;q=1\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: VT after chunked', get('/', 'Transfer-Encoding: chunked\x0b\r\n'), 400, 'bad-header-value'],
  ['TE.TE: NUL inside chunked', get('/', 'Transfer-Encoding: chun\x00ked\r\n'), 400, 'bad-header-value'],
  ['TE.TE: obs-fold value', get('/', 'Transfer-Encoding:\r\n chunked\r\n'), 400, 'obs-fold'],
  ['TE.TE: non-ASCII lookalike', get('/', 'Transfer-Encoding: chunk\xe9d\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: underscore name', get('/', 'Transfer_Encoding: chunked\r\n'), 400, 'ambiguous-header-name'],
  ['CL: underscore name', get('/', 'Content_Length: 5\r\n'), 400, 'ambiguous-header-name'],
  ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'te-in-http10'],
  ['TE and CL in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 400, 'te-in-http10'],
  ['TE.TE: NBSP after chunked', get('/', 'Transfer-Encoding: chunked\xa0\r\n'), 400, 'bad-transfer-encoding'],
  ['TE.TE: NBSP in a list', get('/', 'Transfer-Encoding: gzip,\xa0chunked\r\n'), 400, 'bad-transfer-encoding'],
  ['gzip, chunked is not supported', get('/', 'Transfer-Encoding: gzip, chunked\r\n'), 501, 'unsupported-transfer-coding'],
  ['CL: plus sign', get('/', 'Content-Length: +5\r\n'), 400, 'bad-content-length'],
  ['CL: minus sign', get('/', 'Content-Length: -5\r\n'), 400, 'bad-content-length'],
  ['CL: list of equal values', get('/', 'Content-Length: 5, 5\r\n'), 400, 'bad-content-length'],
  ['CL: list without space', get('/', 'Content-Length: 5,5\r\n'), 400, 'bad-content-length'],
  ['CL: two equal lines', get('/', 'Content-Length: 5\r\nContent-Length: 5\r\n'), 400, 'duplicate-content-length'],
  ['CL: two different lines', get('/', 'Content-Length: 5\r\nContent-Length: 6\r\n'), 400, 'duplicate-content-length'],
  ['CL: SP inside', get('/', 'Content-Length: 1 0\r\n'), 400, 'bad-content-length'],
  ['CL: hex', get('/', 'Content-Length: 0x10\r\n'), 400, 'bad-content-length'],
  ['CL: decimal point', get('/', 'Content-Length: 5.0\r\n'), 400, 'bad-content-length'],
  ['CL: exponent', get('/', 'Content-Length: 1e3\r\n'), 400, 'bad-content-length'],
  ['CL: empty', get('/', 'Content-Length:\r\n'), 400, 'bad-content-length'],
  ['CL: OWS only', get('/', 'Content-Length:  \t \r\n'), 400, 'bad-content-length'],
  ['CL: letters', get('/', 'Content-Length: abc\r\n'), 400, 'bad-content-length'],
  ['CL: over MAX_SAFE_INTEGER', get('/', 'Content-Length: 9007199254740992\r\n'), 400, 'bad-content-length'],
  ['CL: 20 digits', get('/', 'Content-Length: 18446744073709551616\r\n'), 400, 'bad-content-length'],
  ['CL: 17 digits with leading zeros', get('/', 'Content-Length: 00000000000000005\r\n'), 400, 'bad-content-length'],
  ['CL: non-ASCII digit', get('/', 'Content-Length: \xb9\r\n'), 400, 'bad-content-length'],
  ['CL: SP before colon', get('/', 'Content-Length : 5\r\n'), 400, 'space-before-colon'],
  ['CL: obs-fold', get('/', 'Content-Length:\r\n 5\r\n'), 400, 'obs-fold'],
  ['NUL in a header name before CL', get('/', 'X\x00Content-Length: 5\r\n'), 400, 'bad-header-name'],
  ['NUL in a value', get('/', 'X-A: \x00\r\nContent-Length: 5\r\n'), 400, 'bad-header-value'],
  ['LF-only line hides a CL', get('/', 'X-A: b\nContent-Length: 5\r\n'), 400, 'bare-lf'],
  ['CR-only line hides a CL', get('/', 'X-A: b\rContent-Length: 5\r\n'), 400, 'bare-cr']
]

function error (raw: string): ParseResult<RequestHead> {
  return parseRequestHead(bytes(raw), DEFAULT_HEAD_LIMITS)
}

for (const [name, raw, status, code] of [...invalid, ...smuggling]) {
  test(`refused: ${name}`, t => {
    const r = error(raw)
    t.like(r, { kind: 'error', status, code })
    if (r.kind === 'error') t.true(r.reason.length > 0)
  })
}

test('limits: a head of exactly maxHeadBytes parses; one byte more is 431', t => {
  const base = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n'
  const max = 200
  const raw = base.replace('X-Pad: ', 'X-Pad: ' + 'p'.repeat(max - base.length))
  t.is(raw.length, max)
  t.is(parseRequestHead(bytes(raw), { maxHeadBytes: max, maxHeaders: 100 }).kind, 'done')
  const over = raw.replace('X-Pad: ', 'X-Pad: p')
  t.like(parseRequestHead(bytes(over), { maxHeadBytes: max, maxHeaders: 100 }), { kind: 'error', status: 431, code: 'head-too-large' })
})

test('limits: incomplete only while under maxHeadBytes', t => {
  const limits = { maxHeadBytes: 64, maxHeaders: 100 }
  const start = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: '
  t.is(parseRequestHead(bytes(start + 'x'.repeat(63 - start.length)), limits).kind, 'incomplete')
  t.like(parseRequestHead(bytes(start + 'x'.repeat(64 - start.length)), limits), { kind: 'error', status: 431, code: 'head-too-large' })
  t.like(parseRequestHead(bytes(start + 'x'.repeat(5000)), limits), { kind: 'error', status: 431, code: 'head-too-large' })
  // A request line alone over the limit (a huge target) is 431 as well.
  t.like(parseRequestHead(bytes('GET /' + 'a'.repeat(100)), limits), { kind: 'error', status: 431 })
  // Bytes after a complete head do not count against the limit.
  t.is(parseRequestHead(bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n' + 'b'.repeat(1000)), limits).kind, 'done')
})

test('limits: maxHeaders fields parse; one more is 431', t => {
  const limits = { maxHeadBytes: 32768, maxHeaders: 5 }
  const fields = (n: number): string => Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join('')
  t.is(parseRequestHead(bytes(get('/', fields(5))), limits).kind, 'done')
  t.like(parseRequestHead(bytes(get('/', fields(6))), limits), { kind: 'error', status: 431, code: 'too-many-headers' })
  t.like(parseRequestHead(bytes(get('/', fields(101))), DEFAULT_HEAD_LIMITS), { kind: 'error', status: 431, code: 'too-many-headers' })
  t.is(parseRequestHead(bytes(get('/', fields(100))), DEFAULT_HEAD_LIMITS).kind, 'done')
})

test('empty and partial buffers are incomplete', t => {
  for (const raw of ['', '\r', '\r\n', '\r\n\r\n', 'G', 'GET', 'GET ', 'GET /', 'GET / ', 'GET / HTTP/1.', 'GET / HTTP/1.1\r',
    'GET / HTTP/1.1\r\n', 'GET / HTTP/1.1\r\nHost', 'GET / HTTP/1.1\r\nHost:', 'GET / HTTP/1.1\r\nHost: a\r', 'GET / HTTP/1.1\r\nHost: a\r\n\r']) {
    t.is(parseRequestHead(bytes(raw), DEFAULT_HEAD_LIMITS).kind, 'incomplete', JSON.stringify(raw))
    t.is(findHeadEnd(bytes(raw), 0), -1, JSON.stringify(raw))
  }
})

test('every valid head fed byte by byte: incomplete until its last byte, then the same head', t => {
  for (const [name, raw] of valid) {
    const buf = bytes(raw + 'NEXT')
    const whole = parsed(raw)
    let scanned = 0
    for (let n = 0; n <= buf.length; n++) {
      const prefix = buf.subarray(0, n)
      const end = findHeadEnd(prefix, scanned)
      scanned = n
      const r = parseRequestHead(prefix, DEFAULT_HEAD_LIMITS)
      if (n < raw.length) {
        if (r.kind !== 'incomplete' || end !== -1) t.fail(`${name}: at ${n} bytes got ${r.kind}, findHeadEnd ${end}`)
      } else {
        if (r.kind !== 'done') { t.fail(`${name}: at ${n} bytes got ${r.kind}`); break }
        t.deepEqual({ ...r.head, headers: r.head.headers.values }, { ...whole, headers: whole.headers.values })
        if (n === raw.length) t.is(end, raw.length, name)
      }
    }
  }
})

test('every refused head fed byte by byte: incomplete, then the same error; once findHeadEnd answers the parser decides', t => {
  for (const [name, raw] of [...invalid, ...smuggling]) {
    const buf = bytes(raw)
    const final = parseRequestHead(buf, DEFAULT_HEAD_LIMITS)
    let scanned = 0
    let foundAt = -1
    for (let n = 0; n <= buf.length; n++) {
      const prefix = buf.subarray(0, n)
      const end = findHeadEnd(prefix, scanned)
      scanned = n
      const r = parseRequestHead(prefix, DEFAULT_HEAD_LIMITS)
      if (r.kind === 'done') t.fail(`${name}: a prefix of ${n} bytes parsed`)
      if (r.kind === 'error') t.deepEqual(r, final, name)
      if (end !== -1 && foundAt === -1) foundAt = n
      if (foundAt !== -1 && r.kind === 'incomplete') t.fail(`${name}: findHeadEnd answered at ${foundAt} bytes but the parser wants more at ${n}`)
    }
    t.is(final.kind, 'error')
  }
})
