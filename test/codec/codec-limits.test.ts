import test from 'ava'
import { Packr } from 'msgpackr'
import { createCodec } from '../../src/codec/codec.js'
import { DEFAULT_MAX_DEPTH } from '../../src/codec/msgpack-scan.js'
import { MalformedFrameError, UnencodableValueError } from '../../src/errors/errors.js'
import { RejectionError } from '../../src/errors/roost-error.js'

const codec = createCodec()
/** msgpackr with every extension roost does not use switched on: what a hostile peer could send. */
const rich = new Packr({ moreTypes: true, structuredClone: true, useRecords: true, useBigIntExtension: true })

/** `length` bytes of a msgpack ext 32 of `type`, optionally followed by one stray byte. */
function ext32 (type: number, length: number, trailing: boolean): Buffer {
  const b = Buffer.alloc(6 + length + (trailing ? 1 : 0), 0x5a)
  b[0] = 0xc9
  b.writeUInt32BE(length, 1)
  b[5] = type
  return b
}

/** `depth` nested one-element arrays around a 1. */
function nested (depth: number): Buffer {
  const b = Buffer.alloc(depth + 1, 0x91)
  b[depth] = 0x01
  return b
}

test('a 1 MiB BigInt extension with a trailing byte is refused, typed, with a short message that quotes no value', t => {
  const err = t.throws(() => codec.decode(ext32(0x42, 1024 * 1024, true)), { instanceOf: MalformedFrameError })
  t.is(err?.code, 'ERR_MALFORMED_FRAME')
  t.regex(err?.message ?? '', /extension type 0x42/)
  t.true((err?.message.length ?? 0) < 200, err?.message)
})

test('a BigInt extension is refused even when the frame is otherwise well formed', t => {
  t.throws(() => codec.decode(ext32(0x42, 16, false)), { instanceOf: MalformedFrameError })
  t.throws(() => codec.decode(rich.pack({ n: 2n ** 80n })), { instanceOf: MalformedFrameError })
})

const cyclicArray = (): unknown[] => { const a: unknown[] = []; a.push(a); return a }
const foreign: Array<[string, () => unknown]> = [
  ['a cyclic value (structured clone references)', cyclicArray],
  ['a Set', () => new Set([1, 2])],
  ['an Error', () => new Error('boom')],
  ['a RegExp', () => /x+/g],
  ['a typed array', () => new Float32Array([1.5, 2.5])],
  ['records (shared structures)', () => [{ a: 1, b: 2 }, { a: 3, b: 4 }]]
]

for (const [name, make] of foreign) {
  test(`an extension type roost does not use is refused: ${name}`, t => {
    const bytes = rich.pack(make())
    const err = t.throws(() => codec.decode(bytes), { instanceOf: MalformedFrameError })
    t.regex(err?.message ?? '', /not allowed|not used/)
  })
}

test('every extension type but undefined and timestamps is refused, in each ext form', t => {
  for (let type = 0; type < 256; type++) {
    if (type === 0xff) continue
    for (const bytes of [Buffer.from([0xd5, type, 1, 2]), Buffer.from([0xc7, 3, type, 1, 2, 3])]) {
      t.throws(() => codec.decode(bytes), { instanceOf: MalformedFrameError }, `type 0x${type.toString(16)}`)
    }
  }
  t.throws(() => codec.decode(Buffer.from([0xc1])), { instanceOf: MalformedFrameError })
})

test('undefined and dates still round-trip', t => {
  const when = new Date('2024-05-06T07:08:09.123Z')
  const decoded = codec.decode(codec.encode({ when, gone: undefined, list: [undefined, 1] })) as Record<string, unknown>
  t.deepEqual(decoded, { when, gone: undefined, list: [undefined, 1] })
  t.true(decoded.when instanceof Date)
})

test('a value nested 3,000 deep is refused; the limit is exact', t => {
  t.throws(() => codec.decode(nested(3000)), { instanceOf: MalformedFrameError, message: /nested deeper than 64/ })
  t.deepEqual(codec.decode(nested(DEFAULT_MAX_DEPTH)), JSON.parse('['.repeat(DEFAULT_MAX_DEPTH) + '1' + ']'.repeat(DEFAULT_MAX_DEPTH)))
  t.throws(() => codec.decode(nested(DEFAULT_MAX_DEPTH + 1)), { instanceOf: MalformedFrameError })
  const deepMap = Buffer.concat([Buffer.from('81a178'.repeat(DEFAULT_MAX_DEPTH + 1), 'hex'), Buffer.from([0x01])])
  t.throws(() => codec.decode(deepMap), { instanceOf: MalformedFrameError })
  t.notThrows(() => createCodec({ maxDepth: 4000 }).decode(nested(3000)))
})

test('counts a frame cannot hold are refused before anything is built', t => {
  t.throws(() => codec.decode(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])), { instanceOf: MalformedFrameError, message: /truncated/ })
  t.throws(() => codec.decode(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01])), { instanceOf: MalformedFrameError, message: /truncated/ })
  t.throws(() => codec.decode(Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])), { instanceOf: MalformedFrameError, message: /truncated/ })
})

test('encoding a cyclic value is refused with a typed rejection, not a RangeError', t => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const err = t.throws(() => codec.encode(cyclic), { instanceOf: UnencodableValueError })
  t.is(err?.code, 'ERR_UNENCODABLE_VALUE')
  t.true(err instanceof RejectionError)
})

test('encoding a value deeper than the limit is refused, so no host sends what every host refuses', t => {
  let deep: unknown = 1
  for (let i = 0; i < 100; i++) deep = { d: deep }
  t.throws(() => codec.encode(deep), { instanceOf: UnencodableValueError, message: /nested deeper than 64/ })
})
