import { CR, LF, SP, TARGET_BYTE, TCHAR, equalsLower, latin1 } from './bytes.js'
import { CONN_CLOSE, CONN_INVALID, CONN_KEEP_ALIVE, CONN_UPGRADE, parseContentLength, scanConnection, transferCodings } from './field-values.js'
import { MAX_LEADING_EMPTY_LINES } from './head-end.js'
import { DEFAULT_HEAD_LIMITS, FRAMING_CHUNKED, FRAMING_NONE, INCOMPLETE, type Framing, type HeadLimits, type ParseResult, type RequestHead } from './head-types.js'
import { FIELDS_FAILED, FIELDS_INCOMPLETE, ParsedHeaders, fieldsError, joinedLower, parseError, scanFields } from './header-fields.js'
import { isValidHost } from './host.js'
import { StringCache } from './string-cache.js'
import { scanVersion } from './start-line.js'

export { DEFAULT_HEAD_LIMITS, type HeadLimits } from './head-types.js'

const hosts = new StringCache(1024, 255, true)

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']

/**
 * Parses the request head at the start of `buf` (RFC 9112, strictly: anything ambiguous is
 * refused, never repaired). 'incomplete' while the head has not ended and `buf` is under
 * `limits.maxHeadBytes`; errors carry 400, 431 (limits), 501 (CONNECT, unsupported transfer
 * codings) or 505 (HTTP versions other than 1.0 and 1.1). Bytes after `head.headBytes` are the
 * body or the next request, untouched. Each call scans from the start: while a head arrives in
 * pieces, wait for findHeadEnd before calling again.
 *
 * Transfer-Encoding: only exactly `chunked` is accepted. A list of valid codings ending in
 * chunked (`gzip, chunked`) gets 501 (RFC 9112 §6.1 SHOULD); anything else, a repeated field, or
 * TE in HTTP/1.0 gets 400. Any repeated Content-Length, even with equal values, gets 400.
 */
export function parseRequestHead (buf: Buffer, limits: HeadLimits = DEFAULT_HEAD_LIMITS): ParseResult<RequestHead> {
  const len = buf.length < limits.maxHeadBytes ? buf.length : limits.maxHeadBytes
  let p = 0
  let empty = 0
  while (p < len && buf[p] === CR) {
    if (p + 1 >= len) return more(buf, limits)
    if (buf[p + 1] !== LF) return parseError(400, 'bare-cr', 'CR not followed by LF')
    p += 2
    if (++empty > MAX_LEADING_EMPTY_LINES) return parseError(400, 'too-many-empty-lines', 'too many empty lines before the request line')
  }
  const lineStart = p
  const tchar = TCHAR
  const targetByte = TARGET_BYTE
  while (p < len && tchar[buf[p]!] === 1) p++
  if (p >= len) return more(buf, limits)
  if (buf[p] !== SP || p === lineStart) return badLine(buf[p]!, p === lineStart ? 'bad-request-line' : 'bad-method')
  const methodEnd = p++
  const targetStart = p
  while (p < len && targetByte[buf[p]!] === 1) p++
  if (p >= len) return more(buf, limits)
  if (buf[p] !== SP || p === targetStart) return badLine(buf[p]!, p === targetStart ? 'bad-request-line' : 'bad-target')
  const targetEnd = p++
  const version = scanVersion(buf, p, len)
  if (version === -1) return more(buf, limits)
  if (version === -2) return parseError(400, 'bad-version', 'malformed HTTP version in the request line')
  if (version === -3) return parseError(505, 'unsupported-version', 'only HTTP/1.0 and HTTP/1.1 are served')
  p += 10
  const startLineEnd = p

  const method = methodName(buf, lineStart, methodEnd)
  if (method === 'CONNECT') return parseError(501, 'connect-unsupported', 'CONNECT is not supported')
  let targetForm: RequestHead['targetForm'] = 'origin'
  let authority: string | null = null
  if (buf[targetStart] !== 0x2f) {
    if (buf[targetStart] === 0x2a && targetEnd - targetStart === 1) {
      if (method !== 'OPTIONS') return parseError(400, 'bad-target', 'asterisk-form is only for OPTIONS')
      targetForm = 'asterisk'
    } else {
      authority = absoluteAuthority(buf, targetStart, targetEnd)
      if (authority === null) return parseError(400, 'bad-target', 'request-target is neither origin-form nor an http(s) absolute-form')
      targetForm = 'absolute'
    }
  }

  const headers = new ParsedHeaders(buf)
  const end = scanFields(buf, p, len, headers, limits.maxHeaders)
  if (end === FIELDS_INCOMPLETE) return more(buf, limits)
  if (end === FIELDS_FAILED) return fieldsError

  let hostAt = -1
  let lengthAt = -1
  let codingAt = -1
  let upgradeAt = -1
  let expectAt = -1
  let conn = 0
  let connectionOptions = NO_OPTIONS
  const names = headers.names
  const offsets = headers.offsets
  for (let i = 0; i < names.length; i++) {
    switch (names[i]) {
      case 'host':
        if (hostAt !== -1) return parseError(400, 'duplicate-host', 'more than one Host field')
        hostAt = i
        break
      case 'content-length':
        if (lengthAt !== -1) return parseError(400, 'duplicate-content-length', 'more than one Content-Length field')
        lengthAt = i
        break
      case 'transfer-encoding':
        if (codingAt !== -1) return parseError(400, 'duplicate-transfer-encoding', 'more than one Transfer-Encoding field')
        codingAt = i
        break
      case 'connection': {
        if (connectionOptions === NO_OPTIONS) connectionOptions = []
        const flags = scanConnection(buf, offsets[4 * i + 1]!, offsets[4 * i + 2]!, connectionOptions)
        if (flags === CONN_INVALID) return parseError(400, 'bad-connection', 'Connection is not a list of tokens')
        conn |= flags
        break
      }
      case 'upgrade':
        if (upgradeAt === -1) upgradeAt = i
        break
      case 'expect':
        if (expectAt === -1) expectAt = i
        break
      default:
        if (isFramingLookalike(names[i]!)) return parseError(400, 'ambiguous-header-name', `'${names[i]!}' reads as a framing field to servers that map '_' to '-'`)
    }
  }

  let host: string | null = null
  if (hostAt === -1) {
    if (version === 1) return parseError(400, 'missing-host', 'HTTP/1.1 request without Host')
  } else {
    const hs = offsets[4 * hostAt + 1]!
    const he = offsets[4 * hostAt + 2]!
    if (!isValidHost(buf, hs, he)) return parseError(400, 'bad-host', 'invalid Host')
    host = hs === he ? '' : hosts.get(buf, hs, he)
  }
  if (authority !== null) host = authority

  let framing: Framing = FRAMING_NONE
  if (codingAt !== -1) {
    if (version === 0) return parseError(400, 'te-in-http10', 'Transfer-Encoding in an HTTP/1.0 request')
    if (lengthAt !== -1) return parseError(400, 'cl-te-conflict', 'both Content-Length and Transfer-Encoding')
    if (!equalsLower(buf, offsets[4 * codingAt + 1]!, offsets[4 * codingAt + 2]!, 'chunked')) return badCoding(headers.valueAt(codingAt))
    framing = FRAMING_CHUNKED
  } else if (lengthAt !== -1) {
    const length = parseContentLength(buf, offsets[4 * lengthAt + 1]!, offsets[4 * lengthAt + 2]!)
    if (length === -1) return parseError(400, 'bad-content-length', 'Content-Length is not a single decimal number')
    framing = { kind: 'length', length }
  }

  const upgrade = version === 1 && (conn & CONN_UPGRADE) !== 0 && upgradeAt !== -1
    ? joinedLower(headers, 'upgrade')
    : null
  const head: RequestHead = {
    method,
    target: targetEnd - targetStart === 1 && buf[targetStart] === 0x2f ? '/' : latin1(buf, targetStart, targetEnd),
    targetForm,
    version,
    headers,
    host,
    framing,
    keepAlive: (conn & CONN_CLOSE) === 0 && (version === 1 || (conn & CONN_KEEP_ALIVE) !== 0),
    upgrade,
    expectContinue: version === 1 && expectAt !== -1 &&
      equalsLower(buf, offsets[4 * expectAt + 1]!, offsets[4 * expectAt + 2]!, '100-continue'),
    connectionOptions,
    headBytes: end,
    startLineStart: lineStart,
    startLineEnd
  }
  return { kind: 'done', head }
}

/**
 * The target in origin-form: an absolute-form target's path and query ('/' when it has no path),
 * for servers that only take origin-form (RFC 9112 §3.2.1); other targets unchanged.
 */
export function originFormTarget (head: RequestHead): string {
  if (head.targetForm !== 'absolute') return head.target
  const t = head.target
  const authority = t.indexOf('//') + 2
  let i = authority
  while (i < t.length && t.charCodeAt(i) !== 0x2f && t.charCodeAt(i) !== 0x3f) i++
  if (i === t.length) return '/'
  return t.charCodeAt(i) === 0x3f ? `/${t.slice(i)}` : t.slice(i)
}

const NO_OPTIONS: string[] = []

function more (buf: Buffer, limits: HeadLimits): ParseResult<never> {
  return buf.length >= limits.maxHeadBytes
    ? parseError(431, 'head-too-large', `request head over ${limits.maxHeadBytes} bytes`)
    : INCOMPLETE
}

function badLine (b: number, code: string): ParseResult<never> {
  if (b === LF) return parseError(400, 'bare-lf', 'LF without CR')
  return parseError(400, code, `byte 0x${b.toString(16)} where the request line needs a single SP`)
}

function methodName (buf: Buffer, start: number, end: number): string {
  for (const m of METHODS) {
    if (m.length !== end - start) continue
    let k = 0
    while (k < m.length && buf[start + k] === m.charCodeAt(k)) k++
    if (k === m.length) return m
  }
  return latin1(buf, start, end)
}

/** The lowercased authority of an http(s) absolute-form target, or null if it is not one. */
function absoluteAuthority (buf: Buffer, start: number, end: number): string | null {
  let p = start
  if (end - p > 7 && equalsLower(buf, p, p + 7, 'http://')) p += 7
  else if (end - p > 8 && equalsLower(buf, p, p + 8, 'https://')) p += 8
  else return null
  const s = p
  while (p < end && buf[p] !== 0x2f && buf[p] !== 0x3f) p++
  if (p === s || !isValidHost(buf, s, p)) return null
  return hosts.get(buf, s, p)
}

// Some servers (CGI-style environments) map '_' in field names to '-': to them Content_Length is
// Content-Length, a framing field we did not see. Refused, like nginx's default drop of such names.
function isFramingLookalike (name: string): boolean {
  if (name.length !== 14 && name.length !== 17) return false
  if (name.indexOf('_') === -1) return false
  const dashed = name.replaceAll('_', '-')
  return dashed === 'content-length' || dashed === 'transfer-encoding'
}

function badCoding (value: string): ParseResult<never> {
  const codings = transferCodings(value)
  if (codings !== null && codings.length > 1 && codings[codings.length - 1] === 'chunked' && codings.indexOf('chunked') === codings.length - 1) {
    return parseError(501, 'unsupported-transfer-coding', `transfer coding '${value}' is not supported; only chunked is`)
  }
  return parseError(400, 'bad-transfer-encoding', 'Transfer-Encoding other than chunked')
}
