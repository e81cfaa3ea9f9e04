import test from 'ava'
import fc from 'fast-check'
import { Type, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { createCodec } from '../../src/codec/codec.js'
import { AdmissionError } from '../../src/errors/errors.js'
import { decodeFirstFrame } from '../../src/transport/hello.js'
import { decodeClientHello, decodeClientProof, decodeServerHello, MESH_HELLO } from '../../src/transport/mesh-hello.js'
import { arrayOf, bytesOf, integer, literal, object, shapeFault, string } from '../../src/transport/wire-shape.js'

const codec = createCodec()

// The TypeBox schemas the hand-written checks replaced, verbatim: the acceptance rules to keep.
const HostId = Type.String({ pattern: '^[0-9a-f]{64}$' })
const Bytes16 = Type.Uint8Array({ minByteLength: 16, maxByteLength: 16 })
const Bytes32 = Type.Uint8Array({ minByteLength: 32, maxByteLength: 32 })
const REFERENCE = {
  hello: Type.Object({
    hello: Type.Literal(1),
    cluster: Type.String({ maxLength: 256 }),
    hostId: HostId,
    name: Type.String({ maxLength: 128 }),
    version: Type.String({ maxLength: 64 }),
    addresses: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8 }),
    proof: Bytes32,
    envelopes: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 255 }), { maxItems: 8 }))
  }),
  refusal: Type.Object({ refused: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 256 }) }),
  clientHello: Type.Object({ m: Type.Literal(MESH_HELLO), host: HostId, to: HostId, nonce: Bytes16 }),
  serverHello: Type.Object({ m: Type.Literal(MESH_HELLO), host: HostId, nonce: Bytes16, proof: Bytes32 }),
  clientProof: Type.Object({ proof: Bytes32 })
}
const accepts = (schema: TSchema): (v: unknown) => boolean => {
  const c = TypeCompiler.Compile(schema)
  return v => c.Check(v)
}

test('each check accepts its shape and names where a rejected value departs from it', t => {
  const shape = object({ a: literal(1), s: string({ maxLength: 3, pattern: /^x/ }), b: bytesOf(2), l: arrayOf(integer(1, 9), 2) }, { o: string() })
  const good = { a: 1, s: 'xy', b: Buffer.alloc(2), l: [1, 9] }
  t.is(shapeFault(shape, good), undefined)
  t.is(shapeFault(shape, { ...good, o: undefined, extra: { anything: true } }), undefined)
  t.is(shapeFault(shape, { ...good, b: new Uint8Array(2) }), undefined)
  const rejected: Array<[unknown, string]> = [
    [null, ''], [[good], ''], ['x', ''], [undefined, ''],
    [{ ...good, a: '1' }, '/a'], [{ ...good, a: undefined }, '/a'],
    [{ ...good, s: 'xyzw' }, '/s'], [{ ...good, s: 'yy' }, '/s'], [{ ...good, s: 7 }, '/s'],
    [{ ...good, b: Buffer.alloc(1) }, '/b'], [{ ...good, b: Buffer.alloc(3) }, '/b'], [{ ...good, b: [0, 0] }, '/b'],
    [{ ...good, l: [1, 2, 3] }, '/l'], [{ ...good, l: [0] }, '/l/0'], [{ ...good, l: [1, 10] }, '/l/1'],
    [{ ...good, l: [1.5] }, '/l/0'], [{ ...good, l: [Number.NaN] }, '/l/0'], [{ ...good, l: { 0: 1, length: 1 } }, '/l'],
    [{ ...good, o: 5 }, '/o'], [{ ...good, o: null }, '/o']
  ]
  for (const [value, path] of rejected) t.is(shapeFault(shape, value)?.path, path, JSON.stringify(value))
})

/** A field that is mostly right, at times just past a bound, at times anything at all. */
const field = <T>(good: fc.Arbitrary<T>, near: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: near, weight: 3 }, { arbitrary: fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 40 })), weight: 1 })
const text = (max: number): fc.Arbitrary<unknown> => field(fc.string({ maxLength: Math.min(max, 8) }), fc.string({ minLength: max - 1, maxLength: max + 1 }))
const hex64 = field(fc.stringMatching(/^[0-9a-f]{64}$/), fc.oneof(fc.stringMatching(/^[0-9a-f]{63,65}$/), fc.stringMatching(/^[0-9A-F]{64}$/)))
const byteField = (n: number): fc.Arbitrary<unknown> => field(fc.uint8Array({ minLength: n, maxLength: n }), fc.uint8Array({ minLength: n - 1, maxLength: n + 1 }))
const optional = { requiredKeys: [] as never[] }

const shapes: Record<keyof typeof REFERENCE, fc.Arbitrary<Record<string, unknown>>> = {
  hello: fc.record({
    hello: field(fc.constant(1), fc.constantFrom(0, 2, '1', 1.5)),
    cluster: text(256),
    hostId: hex64,
    name: text(128),
    version: text(64),
    addresses: field(fc.array(text(64), { maxLength: 8 }), fc.array(fc.string(), { minLength: 9, maxLength: 9 })),
    proof: byteField(32),
    envelopes: field(fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 8 }), fc.array(fc.oneof(fc.integer({ min: -1, max: 257 }), fc.double()), { maxLength: 9 })),
    extra: fc.jsonValue()
  }, optional),
  refusal: fc.record({ refused: text(64), message: text(256), extra: fc.jsonValue() }, optional),
  clientHello: fc.record({ m: field(fc.constant(MESH_HELLO), fc.constant('roost-mesh/2')), host: hex64, to: hex64, nonce: byteField(16), extra: fc.jsonValue() }, optional),
  serverHello: fc.record({ m: field(fc.constant(MESH_HELLO), fc.constant('roost-mesh/2')), host: hex64, nonce: byteField(16), proof: byteField(32) }, optional),
  clientProof: fc.record({ proof: byteField(32), nonce: byteField(16) }, optional)
}

/** What the receiver holds after the codec: byte strings come back as Buffers in these frames. */
function received (v: unknown): unknown {
  const d = codec.decode(codec.encode(v))
  if (d !== null && typeof d === 'object') {
    for (const k of ['proof', 'nonce']) {
      const f = (d as Record<string, unknown>)[k]
      if (f instanceof Uint8Array && !(f instanceof Buffer)) (d as Record<string, unknown>)[k] = Buffer.from(f)
    }
  }
  return d
}

const outcome = (f: () => unknown): string => {
  try {
    f()
    return 'accepted'
  } catch (err) {
    if (err instanceof AdmissionError) return 'refused'
    throw err
  }
}

test('a first frame is a refusal, a hello or an AdmissionError exactly as the TypeBox schemas decided', t => {
  const isHello = accepts(REFERENCE.hello)
  const isRefusal = accepts(REFERENCE.refusal)
  const value = fc.oneof(shapes.hello, shapes.refusal, shapes.clientHello, fc.jsonValue())
  t.notThrows(() => fc.assert(fc.property(value, v => {
    const d = received(v)
    const expected = isRefusal(d) ? 'refusal' : isHello(d) ? 'hello' : 'refused'
    let got: string
    try {
      got = decodeFirstFrame(codec, codec.encode(v)).kind
    } catch (err) {
      if (!(err instanceof AdmissionError)) throw err
      got = 'refused'
    }
    return got === expected
  }), { numRuns: 3000 }))
})

test('the mesh hellos and the client proof are accepted exactly as the TypeBox schemas decided', t => {
  const cases = [
    { decode: decodeClientHello, check: accepts(REFERENCE.clientHello) },
    { decode: decodeServerHello, check: accepts(REFERENCE.serverHello) },
    { decode: decodeClientProof, check: accepts(REFERENCE.clientProof) }
  ]
  const value = fc.oneof(shapes.clientHello, shapes.serverHello, shapes.clientProof, fc.jsonValue())
  for (const { decode, check } of cases) {
    t.notThrows(() => fc.assert(fc.property(value, v => {
      const expected = check(received(v)) ? 'accepted' : 'refused'
      return outcome(() => decode(codec, codec.encode(v))) === expected
    }), { numRuns: 2000 }))
  }
})

test('the generated values reach both verdicts of every check', t => {
  // Guards the two tests above against generators that only ever produce one answer.
  for (const [name, arb] of Object.entries(shapes)) {
    const check = accepts(REFERENCE[name as keyof typeof REFERENCE])
    const verdicts = new Set(fc.sample(arb, 500).map(v => check(received(v))))
    t.deepEqual([...verdicts].sort(), [false, true], name)
  }
})
