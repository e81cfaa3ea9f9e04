import fc from 'fast-check'
import { createCodec } from '../../../src/codec/codec.js'

/**
 * msgpack built by hand, so a generator can put bytes no encoder would write (extension types,
 * 3,000 levels of nesting, a trailing byte) inside an otherwise well-formed message.
 */
export type Raw = Buffer

const codec = createCodec()

/** The codec roost uses, for the well-formed parts. */
export const pack = (value: unknown): Raw => codec.encode(value)

/** Encoded bytes to splice, as they are, where a value goes (see {@link packDeep}). */
export class RawValue {
  constructor (readonly bytes: Raw) {}
}

/** Encodes like {@link pack}, except that {@link RawValue}s anywhere inside are spliced in raw. */
export function packDeep (value: unknown): Raw {
  if (value instanceof RawValue) return value.bytes
  if (Array.isArray(value)) return rawArray(value.map(packDeep))
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return rawMap(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).map(([k, v]) => [k, packDeep(v)] as const))
  }
  return pack(value)
}

/** A msgpack array whose items are already encoded. */
export function rawArray (items: readonly Raw[]): Raw {
  const n = items.length
  const head = n < 16 ? Buffer.from([0x90 | n]) : n < 65536 ? Buffer.from([0xdc, n >> 8, n & 0xff]) : Buffer.from([0xdd, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff])
  return Buffer.concat([head, ...items])
}

/** A msgpack map whose values are already encoded (keys are strings). */
export function rawMap (entries: ReadonlyArray<readonly [string, Raw]>): Raw {
  const n = entries.length
  const head = n < 16 ? Buffer.from([0x80 | n]) : Buffer.from([0xde, n >> 8, n & 0xff])
  if (n >= 65536) throw new RangeError('rawMap: too many entries')
  return Buffer.concat([head, ...entries.flatMap(([k, v]) => [pack(k), v])])
}

/** An ext32 value: type code, `size` bytes of data. */
export function extValue (type: number, size: number, fill = 0x31): Raw {
  const head = Buffer.alloc(6)
  head[0] = 0xc9
  head.writeUInt32BE(size, 1)
  head.writeInt8(type > 127 ? type - 256 : type, 5)
  return Buffer.concat([head, Buffer.alloc(size, fill)])
}

/** `depth` nested one-item arrays around nil. */
export function deepArray (depth: number): Raw {
  return Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])])
}

/** `depth` nested one-entry maps `{a: {a: … nil}}`. */
export function deepMap (depth: number): Raw {
  const level = Buffer.from([0x81, 0xa1, 0x61])
  return Buffer.concat([...Array.from({ length: depth }, () => level), Buffer.from([0xc0])])
}

/** A str32 of `size` bytes. */
export function hugeString (size: number, fill = 0x78): Raw {
  const head = Buffer.alloc(5)
  head[0] = 0xdb
  head.writeUInt32BE(size, 1)
  return Buffer.concat([head, Buffer.alloc(size, fill)])
}

/** Extension type codes msgpackr knows (records, structured clone, typed arrays, BigInt, Set, Map, Error, RegExp, Date…) and some it does not. */
export const EXT_TYPES = [0x42, 0x65, 0x69, 0x70, 0x73, 0x74, 0x75, 0x78, 0xff, 0x01, 0x00, 0x7f, 0x80] as const

/** Sizes of the hostile blobs; the 1 MiB one is issue 13's frozen-loop case. */
export const BIG_SIZES = [1024, 64 * 1024, 1024 * 1024 - 64] as const

export interface HostileOpts {
  /** Weight of the 64 KiB–1 MiB values (they cost the most on an unfixed agent). */
  bigWeight?: number
}

/** One msgpack value meant to hurt a decoder, a validator or a store, raw. */
export function hostileRaw (opts: HostileOpts = {}): fc.Arbitrary<Raw> {
  const bigWeight = opts.bigWeight ?? 1
  const small = fc.oneof(
    fc.record({ t: fc.constantFrom(...EXT_TYPES), n: fc.integer({ min: 0, max: 64 }) }).map(({ t, n }) => extValue(t, n)),
    fc.integer({ min: 16, max: 600 }).map(deepArray),
    fc.integer({ min: 16, max: 600 }).map(deepMap),
    fc.constantFrom(Buffer.from([0xc1]), Buffer.from([0xc4, 0xff]), Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0xdf, 0x7f, 0xff, 0xff, 0xff]))
  )
  const big = fc.oneof(
    fc.record({ t: fc.constantFrom(...EXT_TYPES), n: fc.constantFrom(...BIG_SIZES) }).map(({ t, n }) => extValue(t, n)),
    fc.constant(deepArray(3_000)),
    fc.constant(deepMap(3_000)),
    fc.constantFrom(...BIG_SIZES).map(n => hugeString(n))
  )
  return fc.oneof({ arbitrary: small, weight: 20 }, { arbitrary: big, weight: bigWeight }).chain(v =>
    // issue 13: a value followed by one stray byte is what sends msgpackr down its costly error path.
    fc.boolean().map(trailing => trailing ? Buffer.concat([v, Buffer.from([0x00])]) : v))
}

/** Property names that mean something to JavaScript objects. */
export const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'then', 'valueOf'] as const

/** A plain JSON-ish value with hostile keys and sizes now and then. */
export function jsonish (): fc.Arbitrary<unknown> {
  return fc.letrec(tie => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
      fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 24 }),
      fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -1, 2 ** 32, '', '\u0000', 'a'.repeat(300)),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...HOSTILE_KEYS)), tie('value'), { maxKeys: 4 }))
  })).value
}

/** Either a well-formed value from `good`, or (with weight `hostile`) a hostile raw value in its place. */
export function goodOrHostile (good: fc.Arbitrary<unknown>, hostile: number, opts: HostileOpts = {}): fc.Arbitrary<Raw> {
  return fc.oneof(
    { arbitrary: good.map(packDeep), weight: 10 },
    { arbitrary: jsonish().map(pack), weight: 3 },
    { arbitrary: hostileRaw(opts), weight: hostile })
}

/** 64 lowercase hex characters: a host id nobody has. */
export const fakeHostId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b => Buffer.from(b).toString('hex'))
