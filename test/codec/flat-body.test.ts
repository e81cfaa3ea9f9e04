import test from 'ava'
import fc from 'fast-check'
import { Kind, OptionalKind, Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { createCompactEnvelopeCodec, CompactKind, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { compileFlatBody, KIND, OPTIONAL } from '../../src/codec/flat-body.js'
import { createFlatBodies } from '../../src/codec/flat-bodies.js'

const codec = createCodec()

const schema = Type.Object({
  seq: Type.Integer(),
  payload: Type.String(),
  ratio: Type.Optional(Type.Number()),
  ok: Type.Optional(Type.Boolean()),
  none: Type.Null(),
  kind: Type.Literal('hit'),
  last: Type.Optional(Type.String())
})
const flat = compileFlatBody('test.flat', schema)

const ascii = fc.string({ unit: fc.constantFrom(...'abcxyz0123456789-_./: '.split('')), maxLength: 300 })
const number = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0xffffffff }),
  fc.constantFrom(0, -0, 31, 32, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769, 2 ** 32, 2 ** 53, -(2 ** 40), 0.5, -1.25, Number.MAX_VALUE, Infinity, -Infinity, NaN),
  fc.double()
)
/** A body of the schema, its fields in schema order, optional ones present or not. */
const body = fc.record({
  seq: number,
  payload: ascii,
  ratio: fc.option(number, { nil: undefined }),
  ok: fc.option(fc.boolean(), { nil: undefined }),
  last: fc.option(ascii, { nil: undefined })
}).map(r => {
  const out: Record<string, unknown> = { type: 'test.flat', seq: r.seq, payload: r.payload }
  if (r.ratio !== undefined) out.ratio = r.ratio
  if (r.ok !== undefined) out.ok = r.ok
  out.none = null
  out.kind = 'hit'
  if (r.last !== undefined) out.last = r.last
  return out
})

/** Decodes a body the way the generated codec is entered: the head, then the fields. */
function decodeFlat (bytes: Uint8Array): Record<string, unknown> | undefined {
  const bodies = createFlatBodies()
  bodies.register('test.flat', schema)
  return bodies.decode(bytes, 0, bytes.byteLength)
}

test('a flat schema compiles; nested, union or too wide ones do not', t => {
  t.is<symbol, symbol>(KIND, Kind, "TypeBox's kind marker, without loading TypeBox")
  t.is<symbol, symbol>(OPTIONAL, OptionalKind)
  t.not(flat, null)
  t.is(compileFlatBody('x.nested', Type.Object({ a: Type.Object({ b: Type.Integer() }) })), null)
  t.is(compileFlatBody('x.array', Type.Object({ a: Type.Array(Type.String()) })), null)
  t.is(compileFlatBody('x.union', Type.Object({ a: Type.Union([Type.String(), Type.Integer()]) })), null)
  t.is(compileFlatBody('x.wide', Type.Object(Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`f${i}`, Type.Integer()])))), null)
  t.is(compileFlatBody('x.proto', Type.Object({ ['__proto__']: Type.String() })), null)
  t.not(compileFlatBody('x.empty', Type.Object({})), null)
})

test('encoding writes exactly the bytes msgpackr writes, and decoding reads back exactly what msgpackr reads, key order included', t => {
  fc.assert(fc.property(body, fc.integer({ min: 0, max: 40 }), (value, reserve) => {
    const mine = flat?.encode(value, reserve)
    if (mine === null || mine === undefined) return false
    const theirs = codec.encode(value)
    if (!mine.subarray(reserve).equals(theirs)) return false
    const read = decodeFlat(theirs)
    const reference = codec.decode(theirs) as Record<string, unknown>
    t.deepEqual(read, reference)
    return read !== undefined && Object.keys(read).join() === Object.keys(reference).join()
  }), { numRuns: 2_000, seed: 20261206 })
})

test('encoding hands back (null) whatever it does not write exactly as msgpackr would', t => {
  const good = { type: 'test.flat', seq: 1, payload: 'p', none: null, kind: 'hit' }
  t.not(flat?.encode(good, 0), null)
  const refused: Array<[string, unknown]> = [
    ['type not first', { seq: 1, type: 'test.flat', payload: 'p', none: null, kind: 'hit' }],
    ['fields out of order', { type: 'test.flat', payload: 'p', seq: 1, none: null, kind: 'hit' }],
    ['an extra field', { ...good, extra: 1 }],
    ['a required field missing', { type: 'test.flat', seq: 1, none: null, kind: 'hit' }],
    ['an optional field present as undefined', { type: 'test.flat', seq: 1, payload: 'p', ok: undefined, none: null, kind: 'hit' }],
    ['a string that is not ASCII', { ...good, payload: 'héllo' }],
    ['a number given as a string', { ...good, seq: '1' }],
    ['a nested value', { ...good, payload: { deep: true } }],
    ['a class instance', Object.assign(new (class Body {})(), good)],
    ['null', null],
    ['an array', [1, 2]]
  ]
  for (const [what, value] of refused) t.is(flat?.encode(value, 0), null, what)
})

test('decoding hands back (undefined) every body it does not read exactly as msgpackr would, and never reads past the end', t => {
  const good = codec.encode({ type: 'test.flat', seq: 7, payload: 'abc', none: null, kind: 'hit' })
  t.deepEqual(decodeFlat(good), codec.decode(good) as Record<string, unknown>)
  const others: Array<[string, unknown]> = [
    ['an extra field', { type: 'test.flat', seq: 7, payload: 'abc', none: null, kind: 'hit', more: 1 }],
    ['fields out of order', { type: 'test.flat', payload: 'abc', seq: 7, none: null, kind: 'hit' }],
    ['type not first', { seq: 7, type: 'test.flat', payload: 'abc', none: null, kind: 'hit' }],
    ['a non-ASCII string', { type: 'test.flat', seq: 7, payload: 'ü', none: null, kind: 'hit' }],
    ['a 64-bit integer', { type: 'test.flat', seq: 2 ** 40, payload: 'abc', none: null, kind: 'hit' }],
    ['a nested value', { type: 'test.flat', seq: [7], payload: 'abc', none: null, kind: 'hit' }],
    ['an unknown type', { type: 'test.other', seq: 7, payload: 'abc', none: null, kind: 'hit' }]
  ]
  for (const [what, value] of others) {
    const bytes = codec.encode(value)
    const read = decodeFlat(bytes)
    if (what === 'a 64-bit integer') t.deepEqual(read, codec.decode(bytes) as Record<string, unknown>, 'a float64 is read as msgpackr reads it')
    else t.is(read, undefined, what)
  }
  for (let cut = 0; cut < good.byteLength; cut++) t.is(decodeFlat(good.subarray(0, cut)), undefined, `cut at ${cut}`)
  t.is(decodeFlat(Buffer.concat([good, Buffer.from([0xc0])])), undefined, 'trailing bytes')
  const at = good.indexOf(Buffer.from([0xa3, 0x73, 0x65, 0x71])) + 4
  t.is(good[at], 7, 'seq is where the test expects it')
  const float32 = Buffer.concat([good.subarray(0, at), Buffer.from([0xca, 0x40, 0xe0, 0, 0]), good.subarray(at + 1)])
  t.is((codec.decode(float32) as { seq: number }).seq, 7, 'msgpackr reads the float32')
  t.is(decodeFlat(float32), undefined, 'a float32 (msgpackr may round it) is left to msgpackr')
  const uint8 = Buffer.concat([good.subarray(0, at), Buffer.from([0xcc, 7]), good.subarray(at + 1)])
  t.deepEqual(decodeFlat(uint8), codec.decode(uint8) as Record<string, unknown>, 'a wider integer form than needed reads the same')
})

test('one name under two shapes turns the codec off; an unknown or non-flat type has none', t => {
  const bodies = createFlatBodies()
  bodies.register('a.one', Type.Object({ x: Type.Integer() }))
  bodies.register('a.one', Type.Object({ x: Type.Integer() }))
  t.not(bodies.encoder('a.one'), undefined, 'the same shape twice (a module loaded twice) keeps it')
  bodies.register('a.two', Type.Object({ x: Type.Integer() }))
  bodies.register('a.two', Type.Object({ x: Type.String() }))
  t.is(bodies.encoder('a.two'), undefined)
  bodies.register('a.deep', Type.Object({ x: Type.Array(Type.Integer()) }))
  t.is(bodies.encoder('a.deep'), undefined)
  t.is(bodies.encoder('a.none'), undefined)
})

test('a compact envelope with a flat body reads the same on a host that knows the type and on one that does not, both ways', t => {
  const knowing = createFlatBodies()
  knowing.register('test.flat', schema)
  const withTable = createCompactEnvelopeCodec({ codec, bodies: knowing })
  const without = createCompactEnvelopeCodec({ codec, bodies: createFlatBodies() })
  const msg = { type: 'test.flat', seq: 300, payload: 'x'.repeat(32), ok: true, none: null, kind: 'hit' }
  const a = withTable.encode(CompactKind.dispatch, 9, -1, '/sink', '/driver', '', msg)
  const b = without.encode(CompactKind.dispatch, 9, -1, '/sink', '/driver', '', msg)
  t.true(a.equals(b), 'the same bytes either way')
  for (const dec of [withTable, without]) {
    const out = {} as CompactEnvelope
    dec.decode(a, out)
    t.deepEqual([out.type, out.to, out.from, out.id, out.body], ['test.flat', '/sink', '/driver', 9, msg])
  }
})

test('a compact envelope with a flat body is written in place with the bytes encode gives; anything else, or one that might not fit, is left to encode', t => {
  const bodies = createFlatBodies()
  bodies.register('test.flat', schema)
  const envelopes = createCompactEnvelopeCodec({ codec, bodies })
  const msg = { type: 'test.flat', seq: 70_000, payload: 'abc', none: null, kind: 'hit', last: 'z'.repeat(40) }
  const memory = Buffer.alloc(256, 0xee)
  for (const [kind, replyTo] of [[CompactKind.dispatch, ''], [CompactKind.ask, '/ask']] as const) {
    const whole = envelopes.encode(kind, 123_456, -1, '/sink', '/driver', replyTo, msg)
    const end = envelopes.encodeTo(kind, 123_456, -1, '/sink', '/driver', replyTo, msg, memory, 10)
    t.is(end, 10 + whole.byteLength)
    t.true(memory.subarray(10, end).equals(whole), 'the same bytes as encode')
    t.is(memory[9], 0xee, 'nothing before the place given')
  }
  const untouched = Buffer.alloc(256, 0xee)
  t.is(envelopes.encodeTo(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', { ...msg, extra: 1 }, untouched, 0), -1, 'a field the type does not have')
  t.is(envelopes.encodeTo(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', { type: 'test.unknown', x: 1 }, untouched, 0), -1, 'a type without a flat codec')
  t.is(envelopes.encodeTo(CompactKind.reply, 1, 5, '/sink', '', '', msg, untouched, 0), -1, 'a reply')
  t.is(envelopes.encodeTo(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', msg, untouched, 200), -1, 'too little room left')
  t.true(untouched.every(b => b === 0xee), 'nothing written when it says -1')
})
