import test from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import {
  COMPACT_TAG, CompactKind, compactEnvelopeTo, createCompactEnvelopeCodec, ENVELOPE_VERSIONS, MAX_PATH_BYTES, negotiateEnvelope, type CompactEnvelope
} from '../../src/codec/compact-envelope.js'
import { decodeEnvelope } from '../../src/codec/envelope.js'
import { MalformedFrameError, UnencodableValueError } from '../../src/errors/errors.js'

const codec = createCodec()
const blank = (): CompactEnvelope => ({ kind: -1, id: -1, re: -2, to: '?', from: '?', replyTo: '?', type: '?', body: undefined })

interface Shape { kind: number, id: number, re: number, to: string, from: string, replyTo: string, body: unknown, type: string }
const shapes: Array<[string, Shape]> = [
  ['dispatch', { kind: CompactKind.dispatch, id: 1, re: -1, to: '/agent/machines', from: '/agent', replyTo: '', body: { type: 'machine.start', name: 'vm1', cpus: 2 }, type: 'machine.start' }],
  ['ask', { kind: CompactKind.ask, id: 2, re: -1, to: '/echo', from: '', replyTo: '/ask', body: { type: 'echo.say', text: 'hi' }, type: 'echo.say' }],
  ['reply', { kind: CompactKind.reply, id: 3, re: 2, to: '/ask', from: '/echo', replyTo: '', body: { text: 'hi' }, type: 'sys.reply' }],
  ['null reply', { kind: CompactKind.reply, id: 4, re: 0, to: '/a', from: '/b', replyTo: '', body: null, type: 'sys.reply' }],
  ['error', { kind: CompactKind.error, id: 5, re: 2, to: '/ask', from: '', replyTo: '', body: { code: 'ERR_ASK_TIMEOUT', message: 'late' }, type: 'sys.error' }],
  ['error without re', { kind: CompactKind.errorNoRe, id: 6, re: -1, to: '', from: '', replyTo: '', body: { code: 'ERR_MALFORMED_FRAME', message: 'bad' }, type: 'sys.error' }],
  ['largest ids', { kind: CompactKind.reply, id: Number.MAX_SAFE_INTEGER, re: Number.MAX_SAFE_INTEGER - 1, to: '/a', from: '/b', replyTo: '', body: 'str', type: 'sys.reply' }],
  ['non-ASCII paths', { kind: CompactKind.ask, id: 7, re: -1, to: '/агент/機械', from: '/ü', replyTo: '/ü', body: { type: 'x.y' }, type: 'x.y' }],
  // A header over 255 bytes does not fit the codec's reserved space: the body is copied after it.
  ['paths too long for the reserved header', { kind: CompactKind.ask, id: 8, re: -1, to: `/${'t'.repeat(300)}`, from: `/${'f'.repeat(MAX_PATH_BYTES - 1)}`, replyTo: '/r', body: { type: 'x.y', n: 1 }, type: 'x.y' }]
]

for (const [name, s] of shapes) {
  test(`round trip: ${name}`, t => {
    const c = createCompactEnvelopeCodec({ codec })
    const out = blank()
    c.decode(c.encode(s.kind, s.id, s.re, s.to, s.from, s.replyTo, s.body), out)
    t.deepEqual(out, s)
  })
}

test('a compact envelope starts with 0xc1, which a version-1 decoder refuses as malformed (so no host takes it for an old envelope)', t => {
  const frame = createCompactEnvelopeCodec({ codec }).encode(CompactKind.dispatch, 1, -1, '/t', '/f', '', { type: 'a.b' })
  t.is(frame[0], COMPACT_TAG)
  t.throws(() => decodeEnvelope(codec, frame), { instanceOf: MalformedFrameError })
})

test('the message type stays in the body: one msgpack map, nothing split off', t => {
  const c = createCompactEnvelopeCodec({ codec })
  const msg = { type: 'bench.hit', seq: 3, payload: 'x' }
  const frame = c.encode(CompactKind.dispatch, 9, -1, '/sink', '/driver', '', msg)
  const bodyAt = frame.length - codec.encode(msg).length
  t.deepEqual(codec.decodeFrom(frame, bodyAt), msg)
})

test('a stream of messages between two actors decodes to the same path strings; other paths in the same cache slot still decode right', t => {
  const c = createCompactEnvelopeCodec({ codec })
  const a = blank()
  const b = blank()
  c.decode(c.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', { type: 'a.b' }), a)
  c.decode(c.encode(CompactKind.dispatch, 2, -1, '/sink', '/driver', '', { type: 'a.b' }), b)
  t.is(a.to, '/sink')
  t.is(b.from, '/driver')
  // 512 distinct paths through a 256-slot cache: collisions must never return another path.
  for (let i = 0; i < 512; i++) {
    const out = blank()
    c.decode(c.encode(CompactKind.dispatch, i, -1, `/p${i}`, `/q${i % 7}`, '', { type: 'a.b' }), out)
    t.is(out.to, `/p${i}`)
    t.is(out.from, `/q${i % 7}`)
  }
})

test('a path longer than the limit is not encoded: a typed error for the sender', t => {
  const c = createCompactEnvelopeCodec({ codec })
  t.throws(() => c.encode(CompactKind.dispatch, 1, -1, `/${'x'.repeat(MAX_PATH_BYTES)}`, '', '', { type: 'a.b' }), { instanceOf: UnencodableValueError })
  t.throws(() => c.encode(CompactKind.dispatch, 1, -1, '/t', '', '', { type: 'a.b', deep: nest(100) }), { instanceOf: UnencodableValueError })
})

function nest (n: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < n; i++) v = [v]
  return v
}

/** A hand-written frame: tag, kind, then raw bytes. */
const frame = (...bytes: number[]): Buffer => Buffer.from([COMPACT_TAG, ...bytes])
const msgpack = (v: unknown): number[] => [...codec.encode(v)]
const str = (s: string): number[] => [s.length, ...Buffer.from(s)]

const bad: Array<[string, Buffer, number | undefined]> = [
  ['only the tag', Buffer.from([COMPACT_TAG]), undefined],
  ['unknown kind', frame(9, 1, ...str('/t'), ...str(''), ...msgpack({ type: 'a.b' })), undefined],
  ['id cut short', frame(CompactKind.dispatch, 0x81), undefined],
  ['id over 2^53', frame(CompactKind.dispatch, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), undefined],
  ['re cut short', frame(CompactKind.reply, 5), 5],
  ['path length past the end', frame(CompactKind.dispatch, 5, 40, 0x2f), 5],
  ['path longer than the limit', frame(CompactKind.dispatch, 5, 0x81, 0x08, ...Buffer.alloc(MAX_PATH_BYTES + 1, 0x61)), 5],
  ['no body', frame(CompactKind.dispatch, 5, ...str('/t'), ...str('/f')), 5],
  ['body not msgpack', frame(CompactKind.dispatch, 5, ...str('/t'), ...str('/f'), 0xc1), 5],
  ['body with trailing bytes', frame(CompactKind.dispatch, 5, ...str('/t'), ...str('/f'), ...msgpack({ type: 'a.b' }), 0x00), 5],
  ['message body without a type', frame(CompactKind.dispatch, 5, ...str('/t'), ...str('/f'), ...msgpack({ k: 1 })), 5],
  ['message body not a map', frame(CompactKind.ask, 5, ...str('/t'), ...str('/f'), ...str('/r'), ...msgpack(['a.b'])), 5],
  ['type too long', frame(CompactKind.dispatch, 5, ...str('/t'), ...str('/f'), ...msgpack({ type: 'x'.repeat(129) })), 5]
]

for (const [name, bytes, id] of bad) {
  test(`bad frame (${name}) throws MalformedFrameError${id === undefined ? '' : ' carrying its id'}`, t => {
    const err = t.throws(() => { createCompactEnvelopeCodec({ codec }).decode(bytes, blank()) }, { instanceOf: MalformedFrameError })
    t.is(err?.code, 'ERR_MALFORMED_FRAME')
    t.is(err?.details?.id, id)
  })
}

test('the decoder keeps working after a bad frame', t => {
  const c = createCompactEnvelopeCodec({ codec })
  t.throws(() => { c.decode(frame(CompactKind.dispatch, 5, 40), blank()) }, { instanceOf: MalformedFrameError })
  const out = blank()
  c.decode(c.encode(CompactKind.dispatch, 6, -1, '/t', '/f', '', { type: 'a.b' }), out)
  t.like(out, { id: 6, to: '/t', from: '/f', type: 'a.b' })
})

test('a pair speaks the highest envelope version both offer; a host that offers none speaks version 1', t => {
  t.is(negotiateEnvelope(ENVELOPE_VERSIONS, undefined), 1)
  t.is(negotiateEnvelope(ENVELOPE_VERSIONS, [1, 2]), 2)
  t.is(negotiateEnvelope(ENVELOPE_VERSIONS, [1, 2, 7]), 2)
  t.is(negotiateEnvelope([1], [1, 2]), 1)
  t.is(negotiateEnvelope(ENVELOPE_VERSIONS, [7]), 1)
})

test('compactEnvelopeTo reads the target from the header alone, for every kind, and says false for anything else', t => {
  const compact = createCompactEnvelopeCodec({ codec })
  const path = Buffer.from('/agent/membership')
  const to = (bytes: Uint8Array): boolean => compactEnvelopeTo(bytes, path)
  t.true(to(compact.encode(CompactKind.dispatch, 1, -1, '/agent/membership', '/a', '', { type: 'x.y' })))
  t.true(to(compact.encode(CompactKind.ask, 300, -1, '/agent/membership', '/a', '/ask', { type: 'x.y' })))
  t.true(to(compact.encode(CompactKind.reply, 2 ** 40, 123_456, '/agent/membership', '/a', '', null)), 'past a long id and a re')
  t.false(to(compact.encode(CompactKind.dispatch, 1, -1, '/agent/membershi', '/a', '', { type: 'x.y' })), 'a prefix')
  t.false(to(compact.encode(CompactKind.dispatch, 1, -1, '/agent/membershipX', '/a', '', { type: 'x.y' })), 'longer')
  t.false(to(compact.encode(CompactKind.dispatch, 1, -1, '/agent/machines', '/a', '', { type: 'x.y' })))
  t.false(to(compact.encode(CompactKind.dispatch, 1, -1, '/x'.repeat(100), '/a', '', { type: 'x.y' })), 'a path whose length takes two bytes')
  const whole = compact.encode(CompactKind.dispatch, 1, -1, '/agent/membership', '/a', '', { type: 'x.y' })
  for (let cut = 0; cut < 20; cut++) t.false(to(whole.subarray(0, cut)), `cut at ${cut}`)
  t.false(to(Buffer.from([0xd5, 0, 1, 17])), 'a session frame')
  t.false(to(Buffer.from([0xc1, 9, 1, 17])), 'an unknown kind')
  t.false(to(Buffer.from([0xc1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), 'an id that never ends')
})
