/**
 * How a message's body is delimited (RFC 9112 §6.3): no body, a Content-Length, chunked, or —
 * responses only — until the connection closes.
 */
export type Framing = { kind: 'none' } | { kind: 'length', length: number } | { kind: 'chunked' } | { kind: 'close' }

export const FRAMING_NONE: Framing = Object.freeze({ kind: 'none' })
export const FRAMING_CHUNKED: Framing = Object.freeze({ kind: 'chunked' })
export const FRAMING_CLOSE: Framing = Object.freeze({ kind: 'close' })

/**
 * The header fields of a parsed head, in order, with lowercased names. Values are OWS-trimmed and
 * decoded (latin1) from the parsed buffer on first use, and the offset arrays are built on first
 * use: the buffer must stay unmodified while the head is in use (the offsets point into it).
 */
export interface HeaderList {
  names: string[]
  values: string[]
  /** Byte offsets [start, end) of each header LINE (incl. its CRLF) inside the parsed buffer, for cheap re-serialisation. */
  lineStart: number[]
  lineEnd: number[]
  /** Byte offsets [start, end) of each OWS-trimmed value inside the parsed buffer. */
  valueStart: number[]
  valueEnd: number[]
  /** The first value of a (lowercased) name. */
  get: (name: string) => string | undefined
}

/** Where the start line (request line or status line) sits in the parsed buffer. */
export interface StartLine {
  /** Offset of the start line's first byte: past any leading empty lines. */
  startLineStart: number
  /** Offset just past the start line's CRLF. */
  startLineEnd: number
}

/** A request head that passed every check of RFC 9112 this module makes. */
export interface RequestHead extends StartLine {
  /** Case-sensitive token, e.g. 'GET'. */
  method: string
  /** The request-target exactly as sent (origin-, absolute- or asterisk-form). */
  target: string
  targetForm: 'origin' | 'absolute' | 'asterisk'
  /** HTTP/1.0 → 0, HTTP/1.1 → 1. */
  version: 0 | 1
  headers: HeaderList
  /**
   * Lowercased Host (port kept); from the target's authority when the target is in absolute-form
   * (RFC 9112 §3.2.2); '' for an empty Host field; null only for HTTP/1.0 without Host.
   */
  host: string | null
  /** none | length | chunked. A Content-Length of 0 is { kind: 'length', length: 0 }. */
  framing: Framing
  /** HTTP/1.1: true unless Connection has `close`; HTTP/1.0: true only with `keep-alive` (and no `close`). */
  keepAlive: boolean
  /** Lowercased Upgrade field value when Connection lists `upgrade` (HTTP/1.1 only), e.g. 'websocket'; else null. */
  upgrade: string | null
  /** `Expect: 100-continue` (HTTP/1.1 only; RFC 9110 §10.1.1 has 1.0 servers ignore it). */
  expectContinue: boolean
  /** Lowercased options of every Connection field, in order ('keep-alive', 'close', 'upgrade', others). */
  connectionOptions: string[]
  /** Bytes of the head incl. leading empty lines and the final CRLFCRLF: the body (or next message) starts here. */
  headBytes: number
}

/** A response head that passed every check this module makes. */
export interface ResponseHead extends StartLine {
  status: number
  reason: string
  version: 0 | 1
  headers: HeaderList
  /** RFC 9112 §6.3, given the request's method: none (HEAD, 1xx, 204, 304), chunked, length or close. */
  framing: Framing
  /** False for close-delimited bodies, for 101, and per version and Connection as for requests. */
  keepAlive: boolean
  /** Lowercased Upgrade protocol of a 101 response; else null. */
  upgrade: string | null
  connectionOptions: string[]
  headBytes: number
}

/** Statuses a refused head maps to: requests 400/431/501/505, responses always 502. */
export type ParseErrorStatus = 400 | 431 | 501 | 505 | 502

/** Outcome of parsing a head from the start of a buffer. */
export type ParseResult<T> =
  | { kind: 'incomplete' }
  | { kind: 'done', head: T }
  | { kind: 'error', status: ParseErrorStatus, code: string, reason: string }

/** Bounds on a head; over them a request gets 431 (a response 502). */
export interface HeadLimits {
  /** Bytes of the head incl. the final CRLFCRLF. */
  maxHeadBytes: number
  /** Header field lines. */
  maxHeaders: number
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = Object.freeze({ maxHeadBytes: 32768, maxHeaders: 100 })

export const INCOMPLETE: { kind: 'incomplete' } = Object.freeze({ kind: 'incomplete' })
