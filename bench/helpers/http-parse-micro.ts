import { cpus } from 'node:os'
import { chunkedFramer } from '../../src/proxy/http/body-framer.js'
import { findHeadEnd } from '../../src/proxy/http/head-end.js'
import { DEFAULT_HEAD_LIMITS, parseRequestHead } from '../../src/proxy/http/request-head.js'
import { parseResponseHead } from '../../src/proxy/http/response-head.js'
import { hopByHopRemover, rewriteRequestHead } from '../../src/proxy/http/rewrite-head.js'
import type { RequestHead } from '../../src/proxy/http/head-types.js'

// Micro-benchmark of the HTTP/1.1 wire layer: operations per second on one core, printed on
// stderr (a check while developing, not a bench scenario). Run:
//   node --import=tsx bench/helpers/http-parse-micro.ts
// The best of ROUNDS is printed.

const REQUEST = Buffer.from(
  'GET /api/v1/items?id=12345&sort=desc HTTP/1.1\r\n' +
  'Host: demo.roost.internal:8080\r\n' +
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) curl/8.5.0\r\n' +
  'Accept: text/html,application/xhtml+xml,application/xml\r\n' +
  'Accept-Encoding: gzip, deflate, br\r\n' +
  'Connection: keep-alive\r\n' +
  'Cookie: session=abcdef0123456789abcdef\r\n' +
  'X-Trace: 4bf92f3577b34da6\r\n\r\n', 'latin1')
const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n' +
  'Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world!', 'latin1')
const ADD = 'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nVia: 1.1 roost\r\nRoost-Request-Id: 01HZX3K2-ams\r\n'
const BODY_BIG_CHUNKS = chunkedBody(64 * 1024, 4096)
const BODY_SMALL_CHUNKS = chunkedBody(64 * 1024, 64)
const ROUNDS = 5

function chunkedBody (total: number, chunk: number): Buffer {
  const parts: Buffer[] = []
  for (let n = 0; n < total; n += chunk) parts.push(Buffer.from(`${chunk.toString(16)}\r\n`), Buffer.alloc(chunk, 0x61), Buffer.from('\r\n'))
  parts.push(Buffer.from('0\r\n\r\n'))
  return Buffer.concat(parts)
}

// Per CPU second of this process (process.cpuUsage), not per wall second: other processes on a
// shared machine then take time slices from the run without lowering the figure.
function opsPerSec (fn: () => unknown, ms = 300): number {
  for (let i = 0; i < 20_000; i++) fn()
  let best = 0
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0
    const start = process.cpuUsage()
    let elapsed = 0
    while (elapsed < ms) {
      for (let i = 0; i < 1000; i++) fn()
      n += 1000
      const used = process.cpuUsage(start)
      elapsed = (used.user + used.system) / 1000
    }
    best = Math.max(best, n / elapsed * 1000)
  }
  return best
}

// Node's own C parser on the same head, through the internal binding node:http uses (headers
// handed to JS as strings, as node:http gets them): a yardstick measured in the same run.
function llhttpParse (): (() => unknown) | null {
  try {
    process.noDeprecation = true
    const { HTTPParser } = (process as unknown as { binding: (name: string) => any }).binding('http_parser')
    const parser = new HTTPParser()
    let heads = 0
    parser[HTTPParser.kOnHeadersComplete] = () => { heads++ }
    for (const k of ['kOnHeaders', 'kOnBody', 'kOnMessageComplete', 'kOnMessageBegin', 'kOnExecute']) parser[HTTPParser[k]] = () => {}
    parser.initialize(HTTPParser.REQUEST, {}, 0, 0)
    parser.execute(REQUEST)
    if (heads !== 1) return null
    return () => parser.execute(REQUEST)
  } catch {
    return null
  }
}

function expectDone<T> (r: { kind: string, head?: T }): T {
  if (r.kind !== 'done' || r.head === undefined) throw new Error(`bench input did not parse: ${JSON.stringify(r)}`)
  return r.head
}

const head = expectDone<RequestHead>(parseRequestHead(REQUEST, DEFAULT_HEAD_LIMITS))
expectDone(parseResponseHead(RESPONSE, DEFAULT_HEAD_LIMITS, 'GET'))

const fmt = (x: number): string => x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`
const log = (s: string): void => { process.stderr.write(`${s}\n`) }
log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}; request head ${REQUEST.length} B, ${head.headers.names.length} fields`)
log(`parseRequestHead            ${fmt(opsPerSec(() => parseRequestHead(REQUEST, DEFAULT_HEAD_LIMITS)))} /s`)
log(`parseRequestHead + values   ${fmt(opsPerSec(() => (parseRequestHead(REQUEST, DEFAULT_HEAD_LIMITS) as { head: RequestHead }).head.headers.values))} /s`)
log(`findHeadEnd                 ${fmt(opsPerSec(() => findHeadEnd(REQUEST, 0)))} /s`)
log(`rewriteRequestHead          ${fmt(opsPerSec(() => rewriteRequestHead(REQUEST, head, { remove: hopByHopRemover(head), add: ADD })))} /s`)
log(`parse + rewrite             ${fmt(opsPerSec(() => {
  const h = (parseRequestHead(REQUEST, DEFAULT_HEAD_LIMITS) as { head: RequestHead }).head
  return rewriteRequestHead(REQUEST, h, { remove: hopByHopRemover(h), add: ADD })
}))} /s`)
log(`parseResponseHead           ${fmt(opsPerSec(() => parseResponseHead(RESPONSE, DEFAULT_HEAD_LIMITS, 'GET')))} /s`)
const llhttp = llhttpParse()
if (llhttp !== null) log(`llhttp (node's parser, same head, for reference) ${fmt(opsPerSec(llhttp))} /s`)
for (const [what, body] of [['4 KiB', BODY_BIG_CHUNKS], ['64 B', BODY_SMALL_CHUNKS]] as const) {
  const bodies = opsPerSec(() => { const f = chunkedFramer(); f.push(body); return f.done }, 300)
  log(`chunkedFramer, 64 KiB in ${what} chunks: ${(bodies * body.length / 1e6).toFixed(0)} MB/s`)
}
