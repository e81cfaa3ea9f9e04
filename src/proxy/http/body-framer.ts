import { CR, EQUALS, DQUOTE, BACKSLASH, FIELD_BYTE, HEX, LF, QDTEXT, SEMI, TCHAR, COLON } from './bytes.js'
import { HttpFramingError, type FramingErrorCode } from './framing-error.js'

export { HttpFramingError, type FramingErrorCode } from './framing-error.js'

/**
 * Follows one message body through the bytes the caller forwards unchanged, to find where it
 * ends. Feed every received chunk; the bytes past the returned count start the next message.
 */
export interface BodyFramer {
  /**
   * Consumes chunk[offset..]: returns how many of those bytes belong to this body (all of them
   * until the body ends). Throws HttpFramingError on malformed framing; 0 once done.
   */
  push: (chunk: Buffer, offset?: number) => number
  /** The body has ended. */
  readonly done: boolean
}

/** Bounds on the parts of a chunked body that are not data. */
export interface ChunkedLimits {
  /** Bytes of the extensions of one chunk-size line (from its first ';'). Default 4096. */
  maxChunkExtBytes?: number
  /** Bytes of the trailer section, incl. its final CRLF. Default 16384. */
  maxTrailerBytes?: number
}

export const DEFAULT_MAX_CHUNK_EXT_BYTES = 4096
export const DEFAULT_MAX_TRAILER_BYTES = 16384

/** A body of exactly `length` bytes (Content-Length). */
export function lengthFramer (length: number): BodyFramer {
  return new LengthFramer(length)
}

class LengthFramer implements BodyFramer {
  private remaining: number
  constructor (length: number) { this.remaining = length }
  get done (): boolean { return this.remaining === 0 }
  push (chunk: Buffer, offset = 0): number {
    const avail = chunk.length - offset
    const n = avail < this.remaining ? avail : this.remaining
    this.remaining -= n
    return n
  }
}

/**
 * A chunked body (RFC 9112 §7.1), strictly: chunk-size = 1–16 hex digits ≤ MAX_SAFE_INTEGER,
 * extensions `;name[=token|quoted-string]` with no whitespace (the RFC's BWS is refused: it is
 * where parsers disagree), CRLF everywhere (a bare LF or CR is an error), CRLF right after each
 * chunk's data, then trailer fields validated like header fields, then the final CRLF. Works on
 * any split of the input, down to one byte per push.
 */
export function chunkedFramer (limits: ChunkedLimits = {}): BodyFramer {
  return new ChunkedFramer(limits.maxChunkExtBytes ?? DEFAULT_MAX_CHUNK_EXT_BYTES, limits.maxTrailerBytes ?? DEFAULT_MAX_TRAILER_BYTES)
}

const SIZE_START = 0
const SIZE = 1
const EXT_NAME_START = 2
const EXT_NAME = 3
const EXT_VALUE_START = 4
const EXT_TOKEN = 5
const EXT_QUOTED = 6
const EXT_ESCAPE = 7
const EXT_AFTER_QUOTED = 8
const SIZE_LF = 9
const DATA = 10
const DATA_CR = 11
const DATA_LF = 12
const TRAILER_START = 13
const TRAILER_NAME = 14
const TRAILER_VALUE = 15
const TRAILER_LF = 16
const FINAL_LF = 17
const DONE = 18

const MAX_SIZE_DIGITS = 16

class ChunkedFramer implements BodyFramer {
  private state = SIZE_START
  private size = 0
  private digits = 0
  private remaining = 0
  private extBytes = 0
  private trailerBytes = 0

  constructor (private readonly maxExt: number, private readonly maxTrailer: number) {}

  get done (): boolean { return this.state === DONE }

  push (chunk: Buffer, offset = 0): number {
    let state = this.state
    if (state === DONE) return 0
    const len = chunk.length
    let i = offset
    while (i < len) {
      if (state === DATA) {
        const avail = len - i
        if (avail < this.remaining) {
          this.remaining -= avail
          i = len
          break
        }
        i += this.remaining
        this.remaining = 0
        state = DATA_CR
        continue
      }
      const b = chunk[i++]!
      if (state >= EXT_NAME_START && state <= EXT_AFTER_QUOTED && ++this.extBytes > this.maxExt) {
        fail('chunk-ext-too-large', `chunk extensions over ${this.maxExt} bytes`)
      }
      if (state >= TRAILER_START && ++this.trailerBytes > this.maxTrailer) {
        fail('trailer-too-large', `trailer section over ${this.maxTrailer} bytes`)
      }
      switch (state) {
        case SIZE_START: {
          const d = HEX[b]!
          if (d === 0xff) fail('bad-chunk-size', 'chunk size is not hex')
          this.size = d
          this.digits = 1
          state = SIZE
          break
        }
        case SIZE: {
          const d = HEX[b]!
          if (d !== 0xff) {
            if (++this.digits > MAX_SIZE_DIGITS) fail('chunk-size-too-large', `chunk size over ${MAX_SIZE_DIGITS} hex digits`)
            this.size = this.size * 16 + d
            if (this.size > Number.MAX_SAFE_INTEGER) fail('chunk-size-too-large', 'chunk size over 2^53-1')
          } else if (b === SEMI) {
            this.extBytes = 1
            state = EXT_NAME_START
          } else if (b === CR) {
            state = SIZE_LF
          } else {
            fail('bad-chunk-size', `byte 0x${b.toString(16)} after the chunk size`)
          }
          break
        }
        case EXT_NAME_START:
          if (TCHAR[b] !== 1) fail('bad-chunk-ext', 'chunk extension without a name')
          state = EXT_NAME
          break
        case EXT_NAME:
          if (TCHAR[b] === 1) break
          if (b === EQUALS) state = EXT_VALUE_START
          else state = afterExt(b)
          break
        case EXT_VALUE_START:
          if (b === DQUOTE) state = EXT_QUOTED
          else if (TCHAR[b] === 1) state = EXT_TOKEN
          else fail('bad-chunk-ext', 'chunk extension value is neither a token nor a quoted string')
          break
        case EXT_TOKEN:
          if (TCHAR[b] !== 1) state = afterExt(b)
          break
        case EXT_QUOTED:
          if (b === DQUOTE) state = EXT_AFTER_QUOTED
          else if (b === BACKSLASH) state = EXT_ESCAPE
          else if (QDTEXT[b] !== 1) fail('bad-chunk-ext', `byte 0x${b.toString(16)} in a quoted chunk extension`)
          break
        case EXT_ESCAPE:
          if (FIELD_BYTE[b] !== 1) fail('bad-chunk-ext', `byte 0x${b.toString(16)} escaped in a quoted chunk extension`)
          state = EXT_QUOTED
          break
        case EXT_AFTER_QUOTED:
          state = afterExt(b)
          break
        case SIZE_LF:
          if (b !== LF) fail('bad-chunk-line-end', 'chunk-size line not ended by CRLF')
          if (this.size === 0) {
            this.trailerBytes = 0
            state = TRAILER_START
          } else {
            this.remaining = this.size
            state = DATA
          }
          break
        case DATA_CR:
          if (b !== CR) fail('bad-chunk-data-end', 'chunk data not followed by CRLF')
          state = DATA_LF
          break
        case DATA_LF:
          if (b !== LF) fail('bad-chunk-data-end', 'chunk data not followed by CRLF')
          state = SIZE_START
          break
        case TRAILER_START:
          if (b === CR) state = FINAL_LF
          else if (TCHAR[b] === 1) state = TRAILER_NAME
          else fail('bad-trailer', b === 0x20 || b === 0x09 ? 'obs-fold in the trailer section' : 'malformed trailer field name')
          break
        case TRAILER_NAME:
          if (b === COLON) state = TRAILER_VALUE
          else if (TCHAR[b] !== 1) fail('bad-trailer', 'malformed trailer field name')
          break
        case TRAILER_VALUE:
          if (b === CR) state = TRAILER_LF
          else if (FIELD_BYTE[b] !== 1) fail('bad-trailer', `byte 0x${b.toString(16)} in a trailer field value`)
          break
        case TRAILER_LF:
          if (b !== LF) fail('bad-trailer', 'trailer line not ended by CRLF')
          state = TRAILER_START
          break
        case FINAL_LF:
          if (b !== LF) fail('bad-trailer', 'chunked body not ended by CRLF')
          this.state = DONE
          return i - offset
      }
    }
    this.state = state
    return i - offset
  }
}

/** The state after an extension's name or value: another extension, or the end of the line. */
function afterExt (b: number): number {
  if (b === SEMI) return EXT_NAME_START
  if (b === CR) return SIZE_LF
  return fail('bad-chunk-ext', `byte 0x${b.toString(16)} in a chunk extension`)
}

function fail (code: FramingErrorCode, message: string): never {
  throw new HttpFramingError(code, message)
}
