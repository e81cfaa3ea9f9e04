import test from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import { MalformedFrameError } from '../../src/errors/errors.js'
import { RoostError } from '../../src/errors/roost-error.js'

const codec = createCodec()

const samples: Array<[string, unknown]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['small int', 42],
  ['negative int', -7],
  ['large safe int', Number.MAX_SAFE_INTEGER],
  ['large negative safe int', Number.MIN_SAFE_INTEGER],
  ['float', 3.141592653589793],
  ['empty string', ''],
  ['ascii string', 'hello, roost'],
  ['unicode string', 'héllo 🐦 世界'],
  ['long string', 'x'.repeat(70_000)],
  ['empty array', []],
  ['mixed array', [1, 'two', null, true, [3, [4]]]],
  ['empty object', {}],
  ['nested object', { a: 1, b: { c: 'd', e: [1, 2, { f: null }] }, 'dotted.key': 'v' }],
  ['envelope-like tuple', [1, 'machine.start', 17, '/a', '/b', null, null, { id: 'm1', cpus: 2 }]],
  ['many keys', Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]))]
]

for (const [name, value] of samples) {
  test(`round trip: ${name}`, t => {
    const bytes = codec.encode(value)
    t.true(Buffer.isBuffer(bytes))
    t.deepEqual(codec.decode(bytes), value)
  })
}

test('round trip: binary data comes back as bytes with the same content', t => {
  const data = Buffer.from([0, 1, 2, 250, 255])
  const decoded = codec.decode(codec.encode({ data })) as { data: Uint8Array }
  t.true(decoded.data instanceof Uint8Array)
  t.deepEqual(Buffer.from(decoded.data), data)
})

test('a decoded byte string is a copy: reusing the input (as the transport ring does) does not change it', t => {
  const bytes = codec.encode({ key: Buffer.alloc(100, 7), small: Buffer.from([1, 2, 3]) })
  const decoded = codec.decode(bytes) as { key: Uint8Array, small: Uint8Array }
  bytes.fill(0)
  t.deepEqual(Buffer.from(decoded.key), Buffer.alloc(100, 7))
  t.deepEqual(Buffer.from(decoded.small), Buffer.from([1, 2, 3]))
  t.not(decoded.key.buffer, bytes.buffer)
})

test('a value in shared memory (the transport ring) decodes as from a plain buffer, long strings and byte strings too; the bytes are only read', t => {
  const value = { type: 'x.y', long: 'é'.repeat(300), ascii: 'a'.repeat(70_000), bin: Buffer.alloc(5_000, 3), list: ['short', 'q'.repeat(40)] }
  for (const prefix of [0, 13]) {
    const bytes = codec.encode(value)
    const shared = new SharedArrayBuffer(prefix + bytes.byteLength + 7)
    const view = Buffer.from(shared, 0, prefix + bytes.byteLength)
    bytes.copy(view, prefix)
    const before = Buffer.from(view)
    const decoded = codec.decodeFrom(view, prefix) as typeof value
    t.deepEqual({ ...decoded, bin: Buffer.from(decoded.bin) }, value)
    t.false(decoded.bin.buffer instanceof SharedArrayBuffer)
    t.true(before.equals(view))
  }
})

test('maps decode as plain objects, not Map instances', t => {
  const decoded = codec.decode(codec.encode({ a: 1 }))
  t.false(decoded instanceof Map)
  t.is(Object.getPrototypeOf(decoded), Object.prototype)
})

test('two codecs share no state: one decodes what another encoded', t => {
  const other = createCodec()
  const values = [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: 3, b: 'z' }]
  for (const v of values) t.deepEqual(other.decode(codec.encode(v)), v)
})

test('decode accepts a Uint8Array that is not a Buffer', t => {
  const bytes = codec.encode({ hello: 'world' })
  const plain = new Uint8Array(bytes.byteLength)
  plain.set(bytes)
  t.deepEqual(codec.decode(plain), { hello: 'world' })
})

const garbage: Array<[string, Uint8Array]> = [
  ['empty input', new Uint8Array(0)],
  ['trailing bytes after a value', Uint8Array.from([0x01, 0x02])],
  ['unknown fixext type', Uint8Array.from([0xd4, 0x01, 0x02])],
  ['unknown ext8 type', Uint8Array.from([0xc7, 0x01, 0x05, 0x00])],
  ['truncated str8', Uint8Array.from([0xd9, 0x10, 0x61, 0x62])],
  ['truncated array', Uint8Array.from([0x93, 0x01])],
  ['truncated map', Uint8Array.from([0x82, 0xa1, 0x61])],
  ['truncated uint32', Uint8Array.from([0xce, 0x00, 0x01])]
]

for (const [name, bytes] of garbage) {
  test(`decode of garbage throws MalformedFrameError: ${name}`, t => {
    const err = t.throws(() => codec.decode(bytes), { instanceOf: MalformedFrameError })
    t.is(err?.code, 'ERR_MALFORMED_FRAME')
    t.true(err instanceof RoostError)
    t.regex(err?.message ?? '', /not valid msgpack/)
  })
}
