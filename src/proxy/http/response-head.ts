import { CR, FIELD_BYTE, LF, SP, equalsLower, latin1 } from './bytes.js'
import { CONN_CLOSE, CONN_INVALID, CONN_KEEP_ALIVE, parseContentLength, scanConnection, transferCodings } from './field-values.js'
import { FRAMING_CHUNKED, FRAMING_CLOSE, FRAMING_NONE, INCOMPLETE, type Framing, type HeadLimits, type ParseResult, type ResponseHead } from './head-types.js'
import { FIELDS_FAILED, FIELDS_INCOMPLETE, ParsedHeaders, fieldsError, joinedLower, parseError, scanFields, type ParseError } from './header-fields.js'
import { VERSION_AT_START, scanVersion } from './start-line.js'

export { DEFAULT_HEAD_LIMITS, type HeadLimits } from './head-types.js'

/**
 * Parses the response head at the start of `buf`, answering the request whose method was
 * `requestMethod`. Every refusal has status 502 (RFC 9112 §6.3 item 5: a proxy discards a
 * response with invalid framing and answers 502). Framing follows RFC 9112 §6.3: HEAD requests,
 * 1xx, 204 and 304 have none; 101 has none and `upgrade` set; Transfer-Encoding whose final
 * coding is chunked → chunked, other codings → close-delimited; else Content-Length; else close.
 *
 * Strict where a request would be: obs-fold (RFC 9112 §5.2 allows a proxy to refuse it), both
 * Content-Length and Transfer-Encoding, any repeated Content-Length (even equal values — RFC
 * 9110 §8.6 only MAY accept those), chunked not last or twice, Transfer-Encoding in HTTP/1.0, a
 * 101 without Upgrade. Lenient in one place: a status line may end right after the code
 * (`HTTP/1.1 200` CRLF), which servers send and which frames nothing. No empty lines may precede
 * the status line.
 */
export function parseResponseHead (buf: Buffer, limits: HeadLimits, requestMethod: string): ParseResult<ResponseHead> {
  const len = buf.length < limits.maxHeadBytes ? buf.length : limits.maxHeadBytes
  const version = scanVersion(buf, 0, len, VERSION_AT_START)
  if (version === -1) return more(buf, limits)
  if (version === -2) return bad('bad-status-line', 'malformed HTTP version in the status line')
  if (version === -3) return bad('unsupported-version', 'only HTTP/1.0 and HTTP/1.1 responses are accepted')
  let p = 9
  let status = 0
  for (let k = 0; k < 3; k++, p++) {
    if (p >= len) return more(buf, limits)
    const d = buf[p]! - 0x30
    if (d < 0 || d > 9) return bad('bad-status-line', 'status code is not three digits')
    status = status * 10 + d
  }
  if (status < 100 || status > 599) return bad('bad-status', `status ${status} out of 100–599`)
  if (p >= len) return more(buf, limits)
  let reasonStart = p
  if (buf[p] === SP) {
    reasonStart = ++p
    while (p < len && FIELD_BYTE[buf[p]!] === 1) p++
    if (p >= len) return more(buf, limits)
  }
  if (buf[p] !== CR) return bad(buf[p] === LF ? 'bare-lf' : 'bad-status-line', 'malformed status line')
  const reasonEnd = p
  if (p + 1 >= len) return more(buf, limits)
  if (buf[p + 1] !== LF) return bad('bare-cr', 'CR not followed by LF')
  p += 2
  const startLineEnd = p

  const headers = new ParsedHeaders(buf)
  const end = scanFields(buf, p, len, headers, limits.maxHeaders)
  if (end === FIELDS_INCOMPLETE) return more(buf, limits)
  if (end === FIELDS_FAILED) return bad(fieldsError.code, fieldsError.reason)

  let lengthAt = -1
  let codingAt = -1
  let codings = 0
  let conn = 0
  let connectionOptions = NO_OPTIONS
  const names = headers.names
  const offsets = headers.offsets
  for (let i = 0; i < names.length; i++) {
    switch (names[i]) {
      case 'content-length':
        if (lengthAt !== -1) return bad('duplicate-content-length', 'more than one Content-Length field')
        lengthAt = i
        break
      case 'transfer-encoding':
        if (codingAt === -1) codingAt = i
        codings++
        break
      case 'connection': {
        if (connectionOptions === NO_OPTIONS) connectionOptions = []
        const flags = scanConnection(buf, offsets[4 * i + 1]!, offsets[4 * i + 2]!, connectionOptions)
        if (flags === CONN_INVALID) return bad('bad-connection', 'Connection is not a list of tokens')
        conn |= flags
        break
      }
    }
  }

  let framing: Framing = FRAMING_CLOSE
  if (codingAt !== -1) {
    if (version === 0) return bad('te-in-http10', 'Transfer-Encoding in an HTTP/1.0 response')
    if (lengthAt !== -1) return bad('cl-te-conflict', 'both Content-Length and Transfer-Encoding')
    if (codings === 1 && equalsLower(buf, offsets[4 * codingAt + 1]!, offsets[4 * codingAt + 2]!, 'chunked')) {
      framing = FRAMING_CHUNKED
    } else {
      const list = transferCodings(headers.getAll('transfer-encoding').join(','))
      if (list === null) return bad('bad-transfer-encoding', 'Transfer-Encoding is not a list of codings')
      const chunkedAt = list.indexOf('chunked')
      if (chunkedAt !== -1 && chunkedAt !== list.length - 1) return bad('bad-transfer-encoding', 'chunked is not the final transfer coding, or applied twice')
      framing = chunkedAt === -1 ? FRAMING_CLOSE : FRAMING_CHUNKED
    }
  } else if (lengthAt !== -1) {
    const length = parseContentLength(buf, offsets[4 * lengthAt + 1]!, offsets[4 * lengthAt + 2]!)
    if (length === -1) return bad('bad-content-length', 'Content-Length is not a single decimal number')
    framing = { kind: 'length', length }
  }
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) framing = FRAMING_NONE

  let upgrade: string | null = null
  if (status === 101) {
    upgrade = joinedLower(headers, 'upgrade')
    if (upgrade === null) return bad('bad-upgrade', '101 Switching Protocols without Upgrade')
  }
  const keepAlive = status !== 101 && framing !== FRAMING_CLOSE && (conn & CONN_CLOSE) === 0 &&
    (version === 1 || (conn & CONN_KEEP_ALIVE) !== 0)
  const head: ResponseHead = {
    status,
    reason: reasonEnd - reasonStart === 2 && buf[reasonStart] === 0x4f && buf[reasonStart + 1] === 0x4b ? 'OK' : latin1(buf, reasonStart, reasonEnd),
    version,
    headers,
    framing,
    keepAlive,
    upgrade,
    connectionOptions,
    headBytes: end,
    startLineStart: 0,
    startLineEnd
  }
  return { kind: 'done', head }
}

const NO_OPTIONS: string[] = []

function bad (code: string, reason: string): ParseError {
  return parseError(502, code, reason)
}

function more (buf: Buffer, limits: HeadLimits): ParseResult<never> {
  return buf.length >= limits.maxHeadBytes ? bad('head-too-large', `response head over ${limits.maxHeadBytes} bytes`) : INCOMPLETE
}
