import { MalformedFrameError, UnencodableValueError, UnknownTemplateError } from '../errors/errors.js'
import { MAX_RESERVE_BYTES, type Codec } from './codec.js'
import type { ReceiverTemplates, SenderTemplates } from './envelope-templates.js'
import type { FlatBodyCodec } from './flat-body.js'
import { flatBodies, type FlatBodies } from './flat-bodies.js'
import { createRecentStrings } from './recent-strings.js'
import { COMPACT_TAG, CompactKind, headerLength, KIND_DEFINES, KIND_TEMPLATED, MAX_VARUINT_BYTES, skipVaruint, varuintLength, writeField, writeHeader, writeTemplateHeader, writeVaruint } from './compact-header.js'

/**
 * Envelope versions this code speaks, oldest first: 1 is the msgpack array of
 * envelope.ts, 2 the compact envelope of this module, 3 the compact envelope with templates
 * (envelope-templates.ts). A host offers them in its hello and a pair uses the highest both
 * offer ({@link negotiateEnvelope}).
 */
export const ENVELOPE_VERSIONS: readonly number[] = Object.freeze([1, 2, 3])
export const COMPACT_ENVELOPE_VERSION = 2
export const TEMPLATE_ENVELOPE_VERSION = 3

export { COMPACT_TAG, CompactKind, KIND_DEFINES, KIND_TEMPLATED } from './compact-header.js'

/** Longest `to`, `from` or `replyTo` in bytes (version 1 allowed 1024 characters of mostly ASCII paths). */
export const MAX_PATH_BYTES = 1024
/** Longest message type, as in version 1. */
export const MAX_TYPE_CHARS = 128
/** ASCII paths up to this many bytes are kept by the decoder, as strings. */
const CACHED_PATH_BYTES = 64
const DECODE_CACHE_SLOTS = 256
const ENCODE_CACHE_SLOTS = 64
/** The field of an empty path: its length, 0. */
const ZERO_LENGTH = new Uint8Array(1)
const EMPTY = new Uint8Array(0)
/** Bytes of the slab templated frames are cut from when not written in place. */
const TEMPLATE_SLAB_BYTES = 16 * 1024

/**
 * A decoded compact envelope. The decoder fills one such object per call (the caller's), so the
 * hot path builds nothing besides the body; copy what must outlive the next decode.
 */
export interface CompactEnvelope {
  kind: number
  /** Sender-chosen id, unique per sending host for the life of its process. */
  id: number
  /** For `reply` and `error`: the id of the message answered (-1: none). */
  re: number
  to: string
  from: string
  /** For `ask`: where the answer goes; '' otherwise. */
  replyTo: string
  /** For `dispatch` and `ask`: the body's `type`; `sys.reply` / `sys.error` otherwise. */
  type: string
  /** For `dispatch` and `ask`, the whole message, `type` included; for the others, the reply value or wire error. */
  body: unknown
  /** Version 3: the template this frame defined and the receiver learned (-1: none), and its table's nonce (set by every decode given templates). */
  learned?: number
  nonce?: number
}

/**
 * Version 2 of the envelope: a binary header written directly — tag, kind, varint id (and `re`),
 * length-prefixed UTF-8 paths — then the msgpack body in the same buffer, one encode per message.
 * A message's `type` stays in its body: it is never split off and joined again. Nothing on the
 * wire depends on earlier frames (no interning tables that a skipped or failed frame could put out
 * of step); instead the decoder keeps the strings of recent paths, so a steady stream between two actors decodes to the same path strings without making new ones.
 */
export interface CompactEnvelopeCodec {
  /**
   * Encodes one envelope; `re` is -1 when absent, `replyTo` '' unless `kind` is `ask`. Throws
   * {@link UnencodableValueError} for an unencodable body or a path over {@link MAX_PATH_BYTES}.
   */
  encode: (kind: number, id: number, re: number, to: string, from: string, replyTo: string, body: unknown, templates?: SenderTemplates) => Buffer
  /**
   * As `encode`, in place at `bytes[at, ...)`, for a flat body (flat-body.ts) that fits before
   * the end of `bytes`: returns where the frame ends, or -1 (use `encode`; bytes from `at` on
   * may have been written over, e.g. up to a non-ASCII string).
   */
  encodeTo: (kind: number, id: number, re: number, to: string, from: string, replyTo: string, body: unknown, bytes: Uint8Array, at: number, templates?: SenderTemplates) => number
  /**
   * Decodes and checks a frame that starts with {@link COMPACT_TAG} into `out`: `bytes[start, end)`
   * (default: all of `bytes`). Throws {@link MalformedFrameError}, with `details.id` once the id was read.
   * With the sending peer's `templates` (version 3), reads templated frames, learns the templates
   * defined, and reads `learned` frames; without, those are malformed. A template not known
   * throws {@link UnknownTemplateError}.
   */
  decode: (bytes: Uint8Array, out: CompactEnvelope, start?: number, end?: number, templates?: ReceiverTemplates) => void
}

export interface CompactEnvelopeComponents {
  codec: Codec
  /** Flat message bodies written and read without msgpackr (default: this process's table, flat-bodies.ts). */
  bodies?: FlatBodies
}

export function createCompactEnvelopeCodec (components: CompactEnvelopeComponents): CompactEnvelopeCodec {
  const { codec } = components
  const bodies = components.bodies ?? flatBodies
  const recent = createRecentStrings(DECODE_CACHE_SLOTS, CACHED_PATH_BYTES)

  /** A frame of `header` free bytes followed by the encoded body. */
  const withBody = (header: number, kind: number, body: unknown): Buffer => {
    if (kind <= CompactKind.ask && typeof body === 'object' && body !== null) {
      const flat = bodies.encoder((body as { type: string }).type)?.encode(body, header)
      if (flat !== undefined && flat !== null) return flat
    }
    if (header <= MAX_RESERVE_BYTES) return codec.encodeAfter(body, header)
    const encoded = codec.encode(body)
    const frame = Buffer.allocUnsafe(header + encoded.byteLength)
    frame.set(encoded, header)
    return frame
  }

  /** A path as written, its length prefix included. */
  const encodePath = (s: string): Uint8Array => {
    if (isAscii(s)) {
      const out = new Uint8Array(varuintLength(s.length) + s.length)
      const at = writeVaruint(out, 0, s.length)
      for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i)
      return out
    }
    const b = Buffer.from(s, 'utf8')
    if (b.byteLength > MAX_PATH_BYTES) throw new UnencodableValueError(`path of ${b.byteLength} bytes is longer than ${MAX_PATH_BYTES}`)
    const out = new Uint8Array(varuintLength(b.byteLength) + b.byteLength)
    out.set(b, writeVaruint(out, 0, b.byteLength))
    return out
  }
  // The encoded bytes of recent paths, in slots picked from the string's length and two of its
  // characters: an actor sending to another writes their paths from here, not character by character.
  const pathKeys = new Array<string>(ENCODE_CACHE_SLOTS).fill('')
  const pathBytes = new Array<Uint8Array>(ENCODE_CACHE_SLOTS).fill(EMPTY)
  const field = (s: string): Uint8Array => {
    const n = s.length
    if (n === 0) return ZERO_LENGTH
    const slot = (n * 7 + s.charCodeAt(n - 1) * 31 + s.charCodeAt(n >> 1)) & (ENCODE_CACHE_SLOTS - 1)
    if (pathKeys[slot] === s) return pathBytes[slot] as Uint8Array
    const bytes = encodePath(s)
    if (n <= CACHED_PATH_BYTES) {
      pathKeys[slot] = s
      pathBytes[slot] = bytes
    }
    return bytes
  }

  // The decoder's state for the frame being read (decode is never re-entered).
  let src: Uint8Array = EMPTY
  let end = 0
  let pos = 0
  let readId = -1

  /** The id is attached once read, so the error can still be answered. */
  const malformed = (message: string): MalformedFrameError =>
    new MalformedFrameError(message, readId < 0 ? undefined : { id: readId })

  const readUint = (what: string): number => {
    if (pos < end && (src[pos] as number) < 0x80) return src[pos++] as number
    let n = 0
    let scale = 1
    for (let i = 0; i < MAX_VARUINT_BYTES; i++) {
      if (pos >= end) throw malformed(`compact envelope ends inside its ${what}`)
      const b = src[pos++] as number
      n += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) break
        return n
      }
      scale *= 128
    }
    throw malformed(`compact envelope ${what} is not a safe integer`)
  }

  const readString = (what: string): string => {
    const len = readUint(what)
    if (len > MAX_PATH_BYTES) throw malformed(`compact envelope ${what} of ${len} bytes is longer than ${MAX_PATH_BYTES}`)
    if (pos + len > end) throw malformed(`compact envelope ends inside its ${what}`)
    const s = readPath(src, pos, len)
    pos += len
    return s
  }

  /** The rest of a templated frame (after its id) into `out`. */
  const readTemplated = (out: CompactEnvelope, kind: number, templates: ReceiverTemplates): void => {
    const ref = readUint('template')
    const t = templates.get(ref)
    if (t === undefined) throw new UnknownTemplateError(`compact envelope names template ${ref}, which its sender never defined here`, { id: out.id, ref })
    out.re = -1
    out.to = t.to
    out.from = t.from
    out.replyTo = kind === CompactKind.ask ? readString('replyTo') : ''
    const body = t.decode(src, pos, end, t.type)
    src = EMPTY
    if (body === undefined) throw malformed(`templated ${t.type} body does not hold its template's fields`)
    out.body = body
    out.type = t.type
  }

  /** A path: ASCII ones through the cache of recent ones, others decoded as UTF-8. */
  const readPath = (bytes: Uint8Array, at: number, len: number): string =>
    recent.read(bytes, at, len) ?? Buffer.from(bytes.buffer, bytes.byteOffset + at, len).toString('utf8')

  /**
   * Version 3: a dispatch or ask of a flat type without optional fields, by its template (or
   * defining it) at `bytes[at, ...)`: where it ends, -1 when it cannot be templated, -2 when it
   * might not fit.
   */
  const templatedTo = (kind: number, id: number, to: string, from: string, replyTo: string, body: unknown, templates: SenderTemplates, bytes: Uint8Array, at: number): number => {
    if (kind > CompactKind.ask || typeof body !== 'object' || body === null) return -1
    const type = (body as { type?: unknown }).type
    if (typeof type !== 'string') return -1
    const flat = bodies.encoder(type)
    if (flat?.encodeValuesTo == null) return -1
    const t = templates.entry(to, from, type)
    if (t === undefined) return -1
    const replyToF = kind === CompactKind.ask ? field(replyTo) : undefined
    const replyLen = replyToF?.byteLength ?? 0
    const lead = 2 + varuintLength(id) + varuintLength(t.ref)
    if (t.confirmed) {
      const end = flat.encodeValuesTo(body, lead + replyLen, bytes, at)
      if (end < 0) return end
      writeTemplateHeader(bytes, at, kind | KIND_TEMPLATED, id, t.ref, -1, undefined, undefined, replyToF)
      return end
    }
    const toF = field(to)
    const fromF = field(from)
    const end = flat.encodeTo(body, lead + 4 + toF.byteLength + fromF.byteLength + replyLen, bytes, at)
    if (end < 0) return end
    writeTemplateHeader(bytes, at, kind | KIND_DEFINES, id, t.ref, templates.nonce, toF, fromF, replyToF)
    return end
  }
  let slab = Buffer.allocUnsafeSlow(TEMPLATE_SLAB_BYTES)
  let slabUsed = 0

  return {
    encode (kind, id, re, to, from, replyTo, body, templates) {
      if (templates !== undefined) {
        let start = slabUsed
        let end = templatedTo(kind, id, to, from, replyTo, body, templates, slab, start)
        if (end === -2) {
          slab = Buffer.allocUnsafeSlow(TEMPLATE_SLAB_BYTES)
          slabUsed = start = 0
          end = templatedTo(kind, id, to, from, replyTo, body, templates, slab, start)
        }
        if (end >= 0) {
          slabUsed = end
          return Buffer.from(slab.buffer, slab.byteOffset + start, end - start)
        }
      }
      // Paths are ASCII in practice: written from the string, no bytes made.
      const toF = field(to)
      const fromF = field(from)
      const replyToF = kind === CompactKind.ask ? field(replyTo) : undefined
      const frame = withBody(headerLength(kind, id, re, toF, fromF, replyToF), kind, body)
      writeHeader(frame, 0, kind, id, re, toF, fromF, replyToF)
      return frame
    },
    encodeTo (kind, id, re, to, from, replyTo, body, bytes, at, templates) {
      if (templates !== undefined) {
        const end = templatedTo(kind, id, to, from, replyTo, body, templates, bytes, at)
        if (end !== -1) return end < 0 ? -1 : end
      }
      if (kind > CompactKind.ask || typeof body !== 'object' || body === null) return -1
      const flat = bodies.encoder((body as { type: string }).type)
      if (flat === undefined) return -1
      const toF = field(to)
      const fromF = field(from)
      const replyToF = kind === CompactKind.ask ? field(replyTo) : undefined
      const end = flat.encodeTo(body, headerLength(kind, id, re, toF, fromF, replyToF), bytes, at)
      if (end < 0) return -1
      writeHeader(bytes, at, kind, id, re, toF, fromF, replyToF)
      return end
    },
    decode (bytes, out, start = 0, stop = bytes.byteLength, templates) {
      src = bytes
      end = stop
      if (end - start < 2 || bytes[start] !== COMPACT_TAG) throw new MalformedFrameError('frame is not a compact envelope')
      const kindByte = bytes[start + 1] as number
      const kind = kindByte & 0x0f
      const form = kindByte & 0xf0
      if (kind > (templates === undefined ? CompactKind.errorNoRe : CompactKind.learned) || (form !== 0 && (templates === undefined || kind > CompactKind.ask || (form !== KIND_DEFINES && form !== KIND_TEMPLATED)))) {
        throw new MalformedFrameError(`compact envelope of unknown kind ${kindByte}`)
      }
      pos = start + 2
      readId = -1
      const id = readUint('id')
      readId = id
      out.kind = kind
      out.id = id
      if (templates !== undefined) {
        out.learned = -1
        out.nonce = 0
      }
      if (form === KIND_TEMPLATED) {
        readTemplated(out, kind, templates as ReceiverTemplates)
        return
      }
      let ref = -1
      let nonce = 0
      if (form === KIND_DEFINES) {
        ref = readUint('template')
        if (pos + 4 > end) throw malformed('compact envelope ends inside its template nonce')
        nonce = out.nonce = (src[pos] as number) * 0x1000000 + (((src[pos + 1] as number) << 16) | ((src[pos + 2] as number) << 8) | (src[pos + 3] as number))
        pos += 4
      }
      out.re = kind === CompactKind.reply || kind === CompactKind.error ? readUint('re') : -1
      out.to = readString('to')
      out.from = readString('from')
      out.replyTo = kind === CompactKind.ask ? readString('replyTo') : ''
      if (pos >= end) throw malformed('compact envelope has no body')
      let body: unknown
      try {
        body = (kind <= CompactKind.ask ? bodies.decode(bytes, pos, end) : undefined) ?? codec.decodeFrom(bytes, pos, end)
      } catch (err) {
        throw malformed((err as Error).message)
      } finally {
        src = EMPTY
      }
      out.body = body
      if (kind === CompactKind.reply) {
        out.type = 'sys.reply'
        return
      }
      if (kind === CompactKind.error || kind === CompactKind.errorNoRe) {
        out.type = 'sys.error'
        return
      }
      if (kind === CompactKind.learned) {
        out.type = 'sys.learned'
        return
      }
      const type = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { type?: unknown }).type : undefined
      if (typeof type !== 'string' || type.length === 0 || type.length > MAX_TYPE_CHARS) {
        throw malformed('compact envelope body must be a map with a non-empty string type')
      }
      out.type = type
      if (ref >= 0) {
        // Learned only for a type this host reads as the sender writes it: the same fields, in order.
        const own = bodies.encoder(type)
        const decode = own?.decodeValues
        if (decode != null && sameFields(body as Record<string, unknown>, (own as FlatBodyCodec).keys) && (templates as ReceiverTemplates).learn(nonce, ref, out.to, out.from, type, decode)) out.learned = ref
      }
    }
  }
}

/**
 * Whether `bytes[start, end)` is a compact envelope addressed to the actor whose path, as ASCII
 * bytes, is `path`: read from the header alone (tag, kind, id, `re`, `to`), nothing decoded or
 * made. A frame that is not a well-formed compact header says false.
 */
export function compactEnvelopeTo (bytes: Uint8Array, path: Uint8Array, start = 0, end = bytes.byteLength): boolean {
  if (end - start < 3 || bytes[start] !== COMPACT_TAG) return false
  const kind = bytes[start + 1] as number
  if (kind > CompactKind.errorNoRe) return false
  let pos = skipVaruint(bytes, start + 2, end)
  if (pos > 0 && (kind === CompactKind.reply || kind === CompactKind.error)) pos = skipVaruint(bytes, pos, end)
  if (pos < 0 || pos >= end) return false
  const len = bytes[pos++] as number
  if (len !== path.byteLength || pos + len > end) return false
  for (let i = 0; i < len; i++) if (bytes[pos + i] !== path[i]) return false
  return true
}

/** The envelope version a pair speaks: the highest both offer; 1 when the peer offers none (a host from before the offer). */
export function negotiateEnvelope (ours: readonly number[], theirs: readonly number[] | undefined): number {
  let best = 1
  if (theirs === undefined) return best
  for (const v of theirs) if (v > best && ours.includes(v)) best = v
  return best
}

/** Whether `body`'s keys are `type` then `keys`, in that order. */
function sameFields (body: Record<string, unknown>, keys: readonly string[]): boolean {
  let i = -1
  for (const k in body) {
    if (i === -1 ? k !== 'type' : k !== keys[i]) return false
    i++
  }
  return i === keys.length
}

/** ASCII and within {@link MAX_PATH_BYTES}: its bytes are its char codes. */
function isAscii (s: string): boolean {
  const n = s.length
  if (n > MAX_PATH_BYTES) return false
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}
