import { writeFrameLength as writeU32 } from './frame.js'

// The compact envelope's header (compact-envelope.ts): its tag and kinds, varints, and writing it.

/** First byte of a compact envelope: 0xc1 is never used in msgpack, so no version-1 envelope (a msgpack array) starts with it. */
export const COMPACT_TAG = 0xc1

/** What a compact envelope carries; the `sys.*` kinds answer an earlier message. */
export const CompactKind = {
  /** A one-way message: no reply wanted. */
  dispatch: 0,
  /** A message whose answer goes to `replyTo`. */
  ask: 1,
  /** `sys.reply` to message `re`. */
  reply: 2,
  /** `sys.error` about message `re`. */
  error: 3,
  /** `sys.error` about a frame whose id could not be read. */
  errorNoRe: 4,
  /** Version 3: the templates its receiver learned; the body is `[nonce, ...numbers]`, the paths empty. */
  learned: 5
} as const

/**
 * Version 3: a dispatch or ask that defines a template: after the id, the template's number and
 * the sender table's nonce (u32), then the paths and body as usual.
 */
export const KIND_DEFINES = 0x10
/** Version 3: a dispatch or ask by template: after the id, its number, the ask's `replyTo`, then the fields' values alone. */
export const KIND_TEMPLATED = 0x20

/** A safe integer needs at most 8 bytes of 7 bits. */
export const MAX_VARUINT_BYTES = 8

/** The position after the varint at `pos`, or -1 if it does not end within MAX_VARUINT_BYTES and `end`. */
export function skipVaruint (bytes: Uint8Array, pos: number, end: number): number {
  for (let i = 0; i < MAX_VARUINT_BYTES && pos < end; i++) if ((bytes[pos++] as number) < 0x80) return pos
  return -1
}

/** Bytes of `n` (a safe integer) as a varint: 7 bits a byte, least significant first. */
export function varuintLength (n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  let len = 1
  while (n >= 128) { n = Math.floor(n / 128); len++ }
  return len
}

/** Writes `n` as a varint at `buf[pos]`; returns the position after it. */
export function writeVaruint (buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x80000000) {
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    buf[pos++] = n
    return pos
  }
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

/** An encoded path (its varint length, then its bytes, as compact-envelope.ts makes it), copied in at `pos`. */
export function writeField (buf: Uint8Array, pos: number, f: Uint8Array): number {
  const n = f.byteLength
  for (let i = 0; i < n; i++) buf[pos + i] = f[i] as number
  return pos + n
}

/** Bytes of a compact header with these fields (paths as {@link writeField} writes them). */
export function headerLength (kind: number, id: number, re: number, to: Uint8Array, from: Uint8Array, replyTo: Uint8Array | undefined): number {
  const hasRe = kind === CompactKind.reply || kind === CompactKind.error
  return 2 + varuintLength(id) + (hasRe ? varuintLength(re) : 0) + to.byteLength + from.byteLength + (replyTo === undefined ? 0 : replyTo.byteLength)
}

/** Writes a compact header at `buf[pos]`: tag, kind, id, `re` (for a reply or error), the paths. */
export function writeHeader (buf: Uint8Array, pos: number, kind: number, id: number, re: number, to: Uint8Array, from: Uint8Array, replyTo: Uint8Array | undefined): void {
  buf[pos++] = COMPACT_TAG
  buf[pos++] = kind
  pos = writeVaruint(buf, pos, id)
  if (kind === CompactKind.reply || kind === CompactKind.error) pos = writeVaruint(buf, pos, re)
  pos = writeField(buf, pos, to)
  pos = writeField(buf, pos, from)
  if (replyTo !== undefined) writeField(buf, pos, replyTo)
}

/**
 * Writes a version-3 header at `buf[pos]`: tag, `kindByte` (a kind with {@link KIND_DEFINES} or
 * {@link KIND_TEMPLATED}), id, the template's number; a definition's nonce (u32) and paths; an
 * ask's `replyTo`.
 */
export function writeTemplateHeader (buf: Uint8Array, pos: number, kindByte: number, id: number, ref: number, nonce: number, to: Uint8Array | undefined, from: Uint8Array | undefined, replyTo: Uint8Array | undefined): void {
  buf[pos] = COMPACT_TAG
  buf[pos + 1] = kindByte
  let p = writeVaruint(buf, writeVaruint(buf, pos + 2, id), ref)
  if (to !== undefined && from !== undefined) {
    writeU32(buf, p, nonce)
    p = writeField(buf, writeField(buf, p + 4, to), from)
  }
  if (replyTo !== undefined) writeField(buf, p, replyTo)
}
