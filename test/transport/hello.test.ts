import test from 'ava'
import { randomBytes } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ENVELOPE_VERSIONS } from '../../src/codec/compact-envelope.js'
import { createCodec, type Codec } from '../../src/codec/codec.js'
import { UNADMITTED_MAX_FRAME_BYTES } from '../../src/codec/frame.js'
import { AdmissionError } from '../../src/errors/errors.js'
import { decodeFirstFrame, encodeHello, encodeRefusal, HELLO_VERSION, type Hello } from '../../src/transport/hello.js'
import { randomHostId } from '../helpers/fixtures.js'

const codec = createCodec()

/** A codec that counts its decodes. */
function counting (): Codec & { decodes: number } {
  const c = { decodes: 0, encode: codec.encode, encodeAfter: codec.encodeAfter, decodeFrom: codec.decodeFrom, decode: (b: Uint8Array) => { c.decodes++; return codec.decode(b) } }
  return c
}

const hello = (over: Partial<Hello> = {}): Hello => ({
  hello: HELLO_VERSION, cluster: 'c', hostId: randomHostId(), name: 'h1', version: '1.0.0', addresses: ['127.0.0.1:4000'], proof: randomBytes(32), ...over
})

test('the largest hello the schema allows fits in the pre-admission frame budget', t => {
  // Three UTF-8 bytes per character: the most a string of a given length can take.
  const wide = (n: number): string => '世'.repeat(n)
  const biggest = hello({ cluster: wide(256), name: wide(128), version: wide(64), addresses: Array.from({ length: 8 }, () => wide(64)), envelopes: Array.from({ length: 8 }, () => 255) })
  const bytes = encodeHello(codec, biggest)
  t.true(bytes.byteLength <= UNADMITTED_MAX_FRAME_BYTES, `${bytes.byteLength} bytes`)
  const first = decodeFirstFrame(codec, bytes)
  t.is(first.kind, 'hello')
})

test('a hello is decoded once and comes back whole', t => {
  const c = counting()
  const h = hello()
  const first = decodeFirstFrame(c, encodeHello(codec, h))
  t.deepEqual(first, { kind: 'hello', hello: h })
  t.is(c.decodes, 1)
})

test('a refusal is decoded once and recognised as one', t => {
  const c = counting()
  const first = decodeFirstFrame(c, encodeRefusal(codec, { refused: 'ERR_ADMISSION', message: 'admission refused' }))
  t.deepEqual(first, { kind: 'refusal', refusal: { refused: 'ERR_ADMISSION', message: 'admission refused' } })
  t.is(c.decodes, 1)
})

const bad: Array<[string, Uint8Array]> = [
  ['not msgpack', Buffer.from([0xc1])],
  ['a BigInt extension', Buffer.from([0xc7, 2, 0x42, 1, 2])],
  ['a hello with too many addresses', codec.encode(hello({ addresses: Array.from({ length: 9 }, () => '10.0.0.1:1') }))],
  ['a refusal with a long message', codec.encode({ refused: 'ERR_X', message: 'x'.repeat(1000) })],
  ['a hello with an extra deep property', Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), Buffer.alloc(100, 0x91), Buffer.from([0x01])])]
]

for (const [name, bytes] of bad) {
  test(`a first frame that is ${name} is an AdmissionError`, t => {
    t.throws(() => decodeFirstFrame(codec, bytes), { instanceOf: AdmissionError })
  })
}

/** The hello schema of the releases before envelope version 2, verbatim: what an older host checks a hello against. */
const RELEASED_HELLO_SCHEMA = Type.Object({
  hello: Type.Literal(1),
  cluster: Type.String({ maxLength: 256 }),
  hostId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  name: Type.String({ maxLength: 128 }),
  version: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8 }),
  proof: Type.Uint8Array({ minByteLength: 32, maxByteLength: 32 })
})

test('a host from before envelope version 2 admits the hello of a current host, which offers its envelope versions', t => {
  const sent = codec.decode(encodeHello(codec, hello({ envelopes: [...ENVELOPE_VERSIONS] }))) as Record<string, unknown>
  if (sent.proof instanceof Uint8Array && !(sent.proof instanceof Buffer)) sent.proof = Buffer.from(sent.proof)
  t.deepEqual(sent.envelopes, [1, 2, 3])
  t.true(TypeCompiler.Compile(RELEASED_HELLO_SCHEMA).Check(sent))
})

test('a current host admits the hello of a host from before envelope version 2, and sees no envelope versions in it', t => {
  const old = hello()
  t.false('envelopes' in old)
  const first = decodeFirstFrame(codec, encodeHello(codec, old))
  t.is(first.kind, 'hello')
  t.is(first.kind === 'hello' ? first.hello.envelopes : 'refusal', undefined)
})

test('a hello whose envelope versions are not small integers is refused', t => {
  for (const envelopes of [['2'], [0], [256], [1.5], Array.from({ length: 9 }, () => 1)]) {
    t.throws(() => decodeFirstFrame(codec, codec.encode({ ...hello(), envelopes })), { instanceOf: AdmissionError })
  }
})
