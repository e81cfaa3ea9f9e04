import { COLON, CR, FIELD_BYTE, HTAB, LF, NAME_LOWER, SP, latin1 } from './bytes.js'
import { StringCache } from './string-cache.js'
import type { HeaderList, ParseErrorStatus, ParseResult } from './head-types.js'

export type ParseError = Extract<ParseResult<never>, { kind: 'error' }>

export function parseError (status: ParseErrorStatus, code: string, reason: string): ParseError {
  return { kind: 'error', status, code, reason }
}

/** scanFields ran out of bytes before the empty line. */
export const FIELDS_INCOMPLETE = -1
/** scanFields refused a line; the error is in `fieldsError`. */
export const FIELDS_FAILED = -2

/** The error of the last scanFields call that returned FIELDS_FAILED (parsing is synchronous). */
export let fieldsError: ParseError = parseError(400, 'bad-header', 'malformed header field')

/** Header fields as offsets into the parsed buffer; values are decoded on first use. */
export class ParsedHeaders implements HeaderList {
  readonly names: string[] = []
  /** Per field, 4 offsets: line start, value start, value end (trimmed), line end (past CRLF). */
  readonly offsets: number[] = []
  private decoded: string[] | undefined
  private columns: number[][] | undefined
  private readonly buf: Buffer

  constructor (buf: Buffer) {
    this.buf = buf
  }

  get values (): string[] {
    if (this.decoded === undefined) {
      const out = new Array<string>(this.names.length)
      for (let i = 0; i < out.length; i++) out[i] = this.valueAt(i)
      this.decoded = out
    }
    return this.decoded
  }

  get lineStart (): number[] { return this.column(0) }
  get valueStart (): number[] { return this.column(1) }
  get valueEnd (): number[] { return this.column(2) }
  get lineEnd (): number[] { return this.column(3) }

  /** The decoded value of field i. */
  valueAt (i: number): string {
    if (this.decoded !== undefined) return this.decoded[i]!
    return latin1(this.buf, this.offsets[4 * i + 1]!, this.offsets[4 * i + 2]!)
  }

  get (name: string): string | undefined {
    const i = this.names.indexOf(name)
    return i === -1 ? undefined : this.valueAt(i)
  }

  /** Every value of a (lowercased) name, in order. */
  getAll (name: string): string[] {
    const out: string[] = []
    for (let i = 0; i < this.names.length; i++) if (this.names[i] === name) out.push(this.valueAt(i))
    return out
  }

  // The four offset arrays of HeaderList, split out of `offsets` the first time one is asked for.
  private column (k: number): number[] {
    if (this.columns === undefined) {
      const n = this.names.length
      const cols = [new Array<number>(n), new Array<number>(n), new Array<number>(n), new Array<number>(n)]
      for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) cols[c]![i] = this.offsets[4 * i + c]!
      this.columns = cols
    }
    return this.columns[k]!
  }
}

// Field names seen on most requests and responses, so that parsing them allocates no string.
// Names found at run time join them in the cache.
const COMMON_NAMES = [
  'host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect', 'keep-alive',
  'proxy-connection', 'te', 'trailer', 'accept', 'accept-encoding', 'accept-language', 'accept-charset',
  'user-agent', 'cookie', 'set-cookie', 'referer', 'origin', 'authorization', 'proxy-authorization',
  'cache-control', 'pragma', 'content-type', 'content-encoding', 'content-language', 'content-range',
  'range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'etag',
  'last-modified', 'date', 'server', 'location', 'vary', 'age', 'expires', 'via', 'forwarded',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-host', 'x-real-ip',
  'x-request-id', 'dnt', 'upgrade-insecure-requests', 'sec-websocket-key', 'sec-websocket-version',
  'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept', 'sec-fetch-site',
  'sec-fetch-mode', 'sec-fetch-dest', 'sec-fetch-user', 'sec-ch-ua', 'sec-ch-ua-mobile',
  'sec-ch-ua-platform', 'access-control-allow-origin', 'strict-transport-security', 'x-powered-by',
  'accept-ranges', 'content-disposition', 'link', 'priority', 'roost-replay'
]
const names = new StringCache(4096, 64, true).seed(COMMON_NAMES)

function failed (status: ParseErrorStatus, code: string, reason: string): number {
  fieldsError = parseError(status, code, reason)
  return FIELDS_FAILED
}

/**
 * Scans header field lines from `p` up to `len` into `h`, through the empty line that ends the
 * head. Returns the index just past that CRLF, FIELDS_INCOMPLETE, or FIELDS_FAILED (see
 * fieldsError). Strict RFC 9112 §5: name = token directly followed by ':', no obs-fold, CRLF
 * only, no CTL other than HTAB in values; values are OWS-trimmed.
 */
export function scanFields (buf: Buffer, p: number, len: number, h: ParsedHeaders, maxHeaders: number): number {
  const nameLower = NAME_LOWER
  const fieldByte = FIELD_BYTE
  const fieldNames = h.names
  const offsets = h.offsets
  let count = fieldNames.length
  for (;;) {
    if (p >= len) return FIELDS_INCOMPLETE
    let b = buf[p]!
    if (b === CR) {
      if (p + 1 >= len) return FIELDS_INCOMPLETE
      if (buf[p + 1] !== LF) return failed(400, 'bare-cr', 'CR not followed by LF')
      return p + 2
    }
    const lineStart = p
    let hash = 0
    let lower: number
    while ((lower = nameLower[b]!) !== 0) {
      hash = (Math.imul(hash, 31) + lower) | 0
      if (++p >= len) return FIELDS_INCOMPLETE
      b = buf[p]!
    }
    if (b !== COLON || p === lineStart) return nameError(buf, lineStart, p, len)
    const nameEnd = p++
    while (p < len && ((b = buf[p]!) === SP || b === HTAB)) p++
    const valueStart = p
    for (;;) {
      if (p >= len) return FIELDS_INCOMPLETE
      b = buf[p]!
      if (fieldByte[b] === 0) break
      p++
    }
    if (b !== CR) return failed(400, b === LF ? 'bare-lf' : 'bad-header-value', `byte 0x${b.toString(16)} in a field value`)
    if (p + 1 >= len) return FIELDS_INCOMPLETE
    if (buf[p + 1] !== LF) return failed(400, 'bare-cr', 'CR not followed by LF')
    let valueEnd = p
    while (valueEnd > valueStart && ((b = buf[valueEnd - 1]!) === SP || b === HTAB)) valueEnd--
    p += 2
    if (count++ === maxHeaders) return failed(431, 'too-many-headers', `more than ${maxHeaders} header fields`)
    fieldNames.push(names.lookup(buf, lineStart, nameEnd, hash))
    offsets.push(lineStart, valueStart, valueEnd, p)
  }
}

/** Why a field line did not start with `token ":"` (p is where the token ended). */
function nameError (buf: Buffer, lineStart: number, p: number, len: number): number {
  const b = buf[p]!
  if (p === lineStart && (b === SP || b === HTAB)) return failed(400, 'obs-fold', 'obsolete line folding (a line starting with whitespace)')
  if (b === COLON) return failed(400, 'bad-header-name', 'empty field name')
  if (b === SP || b === HTAB) {
    let q = p
    while (q < len && (buf[q] === SP || buf[q] === HTAB)) q++
    if (q >= len) return FIELDS_INCOMPLETE
    if (buf[q] === COLON) return failed(400, 'space-before-colon', 'whitespace between a field name and its colon')
    return failed(400, 'bad-header-name', 'whitespace inside a field name')
  }
  if (b === LF) return failed(400, 'bare-lf', 'LF without CR')
  if (b === CR && p > lineStart) return failed(400, 'bad-header', 'header line without a colon')
  return failed(400, 'bad-header-name', `byte 0x${b.toString(16)} in a field name`)
}

/** Every value of a name joined with ', ', trimmed and lowercased; null if absent or empty. */
export function joinedLower (h: ParsedHeaders, name: string): string | null {
  let out = ''
  for (let i = 0; i < h.names.length; i++) {
    if (h.names[i] !== name) continue
    const v = h.valueAt(i)
    if (v.length > 0) out = out.length === 0 ? v : `${out}, ${v}`
  }
  return out.length === 0 ? null : out.toLowerCase()
}
