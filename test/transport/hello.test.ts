import test from 'ava'
import { randomBytes } from 'node:crypto'
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
  const biggest = hello({ cluster: wide(256), name: wide(128), version: wide(64), addresses: Array.from({ length: 8 }, () => wide(64)) })
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
