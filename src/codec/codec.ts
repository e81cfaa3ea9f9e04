import { Packr, RESERVE_START_SPACE } from 'msgpackr'
import { MalformedFrameError, UnencodableValueError } from '../errors/errors.js'
import { DEFAULT_MAX_DEPTH, scanMsgpack } from './msgpack-scan.js'

/** Longest part of a msgpackr error message kept in ours (its messages may quote the value). */
const MAX_CAUSE_CHARS = 120

export interface CodecInit {
  /** How many containers a value may nest, encoding or decoding ({@link DEFAULT_MAX_DEPTH}). */
  maxDepth?: number
}

/**
 * The single msgpackr configuration of roost. Records (shared structures) are off on purpose:
 * hosts of different versions must be able to read each other's frames with no shared state.
 * Bytes are scanned before msgpackr sees them (see {@link scanMsgpack}): extension types roost
 * does not write, over-deep nesting and trailing bytes are refused there, cheaply, so no input
 * reaches msgpackr's costly paths (BigInt parsing, a JSON view of the value in its error) and
 * no decoded value is cyclic. Decoded byte strings are copies, never views of the input.
 */
export interface Codec {
  /** Encodes one value; throws {@link UnencodableValueError} for a cyclic or over-deep value. */
  encode: (value: unknown) => Buffer
  /** Decodes one msgpack value; throws {@link MalformedFrameError} on bad input. */
  decode: (bytes: Uint8Array) => unknown
  /**
   * As `encode`, with `reserve` (0–{@link MAX_RESERVE_BYTES}) bytes left free before the value
   * for the caller's header: a frame is built with one encode and no copy.
   */
  encodeAfter: (value: unknown, reserve: number) => Buffer
  /** As `decode`, of the value that starts at `start` and runs to `end` (default: the end of `bytes`). */
  decodeFrom: (bytes: Uint8Array, start: number, end?: number) => unknown
}

/** Most bytes {@link Codec.encodeAfter} can leave free before a value. */
export const MAX_RESERVE_BYTES = 255

export function createCodec (init: CodecInit = {}): Codec {
  const limits = { maxDepth: init.maxDepth ?? DEFAULT_MAX_DEPTH }
  const packr = new Packr({
    useRecords: false,
    mapsAsObjects: true,
    moreTypes: false,
    structuredClone: false,
    int64AsType: 'number',
    variableMapSize: true,
    // A decoded byte string is a copy: frames arrive in memory the transport reuses (frame-ring.ts), and a view would also keep a whole batch alive.
    copyBuffers: true
  })
  const from = { start: 0 }
  const decodeFrom = (bytes: Uint8Array, start: number, end = bytes.byteLength): unknown => {
    scanMsgpack(bytes, limits, start, end)
    // msgpackr caches a DataView on what it reads (a property added to it): it gets a view of its
    // own, never a buffer that goes on to other readers, whose element loads would see a second shape.
    const source = Buffer.from(bytes.buffer, bytes.byteOffset, end)
    from.start = start
    try {
      return packr.unpack(source, from)
    } catch (err) {
      throw new MalformedFrameError(`frame is not valid msgpack: ${cause(err)}`)
    }
  }
  const encode = (value: unknown, reserve: number): Buffer => {
    let bytes: Buffer
    try {
      bytes = reserve === 0 ? packr.pack(value) : packr.pack(value, RESERVE_START_SPACE | reserve)
    } catch (err) {
      throw new UnencodableValueError(err instanceof RangeError && /call stack/i.test(err.message)
        ? `value is cyclic or nested deeper than ${limits.maxDepth}`
        : `value cannot be encoded: ${cause(err)}`)
    }
    try {
      scanMsgpack(bytes, limits, reserve)
    } catch (err) {
      throw new UnencodableValueError(`value cannot be encoded: ${(err as Error).message}`)
    }
    return bytes
  }
  return {
    encode: (value) => encode(value, 0),
    encodeAfter: (value, reserve) => {
      if (!Number.isInteger(reserve) || reserve < 0 || reserve > MAX_RESERVE_BYTES) throw new RangeError(`reserve must be 0–${MAX_RESERVE_BYTES} bytes, not ${reserve}`)
      return encode(value, reserve)
    },
    decode: (bytes) => decodeFrom(bytes, 0),
    decodeFrom
  }
}

function cause (err: unknown): string {
  const message = err instanceof Error ? err.message : 'unknown error'
  return message.length <= MAX_CAUSE_CHARS ? message : `${message.slice(0, MAX_CAUSE_CHARS)}…`
}
