import test from 'ava'
import fc from 'fast-check'
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { COMPACT_TAG, CompactKind, createCompactEnvelopeCodec, KIND_DEFINES, KIND_TEMPLATED, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { createReceiverTemplates, createSenderTemplates, MAX_TEMPLATES } from '../../src/codec/envelope-templates.js'
import { createFlatBodies } from '../../src/codec/flat-bodies.js'
import { MalformedFrameError, UnknownTemplateError } from '../../src/errors/errors.js'

const codec = createCodec()
const bodies = createFlatBodies()
bodies.register('tpl.hit', Type.Object({ seq: Type.Integer(), payload: Type.String(), ok: Type.Boolean(), none: Type.Null(), x: Type.Number() }))
bodies.register('tpl.opt', Type.Object({ seq: Type.Integer(), note: Type.Optional(Type.String()) }))
const compact = createCompactEnvelopeCodec({ codec, bodies })
const blank = (): CompactEnvelope => ({ kind: -1, id: -1, re: -2, to: '?', from: '?', replyTo: '?', type: '?', body: undefined, learned: -1, nonce: 0 })
const hit = (seq: number): { type: string, seq: number, payload: string, ok: boolean, none: null, x: number } => ({ type: 'tpl.hit', seq, payload: 'x'.repeat(32), ok: seq % 2 === 0, none: null, x: seq / 3 })
const form = (frame: Uint8Array): number => (frame[1] as number) & 0xf0

/** A sender's and a receiver's tables, and a step that decodes a frame at the receiver (reporting what it learned back). */
function pair () {
  const sent = createSenderTemplates()
  const heard = createReceiverTemplates()
  const receive = (frame: Uint8Array): CompactEnvelope => {
    const out = blank()
    compact.decode(frame, out, 0, frame.byteLength, heard)
    if ((out.learned ?? -1) >= 0) sent.confirm(out.nonce as number, [out.learned as number])
    return out
  }
  return { sent, heard, receive }
}

test('a stream of one flat message type between two actors: defined in full until learned, then by template — the same messages either way, in fewer bytes', t => {
  const { sent, receive } = pair()
  const first = compact.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', hit(1), sent)
  t.is(first[0], COMPACT_TAG)
  t.is(form(first), KIND_DEFINES)
  const again = compact.encode(CompactKind.dispatch, 2, -1, '/sink', '/driver', '', hit(2), sent)
  t.is(form(again), KIND_DEFINES, 'still defined while the receiver has not said it learned it')
  const out = receive(first)
  t.like(out, { kind: CompactKind.dispatch, id: 1, to: '/sink', from: '/driver', type: 'tpl.hit', body: hit(1) })
  const plain = compact.encode(CompactKind.dispatch, 3, -1, '/sink', '/driver', '', hit(3))
  for (let seq = 3; seq < 300; seq += 37) {
    const frame = compact.encode(CompactKind.dispatch, seq, -1, '/sink', '/driver', '', hit(seq), sent)
    t.is(form(frame), KIND_TEMPLATED)
    t.true(frame.byteLength < plain.byteLength - 30, `${frame.byteLength} bytes by template against ${plain.byteLength}`)
    t.deepEqual(receive(frame), { kind: CompactKind.dispatch, id: seq, re: -1, to: '/sink', from: '/driver', replyTo: '', type: 'tpl.hit', body: hit(seq), learned: -1, nonce: 0 })
  }
})

test('an ask by template keeps its replyTo; in place it writes the bytes encode writes', t => {
  const { sent, receive } = pair()
  receive(compact.encode(CompactKind.ask, 1, -1, '/sink', '/driver', '/ask', hit(1), sent))
  const frame = compact.encode(CompactKind.ask, 9, -1, '/sink', '/driver', '/driver/reply-9', hit(9), sent)
  t.is(form(frame), KIND_TEMPLATED)
  t.like(receive(frame), { kind: CompactKind.ask, id: 9, to: '/sink', from: '/driver', replyTo: '/driver/reply-9', body: hit(9) })
  const bytes = Buffer.alloc(512, 0xee)
  const end = compact.encodeTo(CompactKind.ask, 9, -1, '/sink', '/driver', '/driver/reply-9', hit(9), bytes, 100, sent)
  t.true(bytes.subarray(100, end).equals(frame))
})

test('a template the receiver does not know (it restarted) is a typed error naming the frame\'s id and the template', t => {
  const { sent, receive } = pair()
  receive(compact.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', hit(1), sent))
  const frame = compact.encode(CompactKind.dispatch, 42, -1, '/sink', '/driver', '', hit(2), sent)
  const err = t.throws(() => { compact.decode(frame, blank(), 0, frame.byteLength, createReceiverTemplates()) }, { instanceOf: UnknownTemplateError })
  t.like(err?.details, { id: 42 })
  t.true(sent.has(err?.details?.ref as number))
})

test('without templates (a version-2 reader), templated, defining and learned frames are malformed', t => {
  const { sent, receive } = pair()
  const def = compact.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', hit(1), sent)
  receive(def)
  const ref = compact.encode(CompactKind.dispatch, 2, -1, '/sink', '/driver', '', hit(2), sent)
  const learned = compact.encode(CompactKind.learned, 3, -1, '', '', '', [sent.nonce, 1])
  for (const frame of [def, ref, learned]) t.throws(() => { compact.decode(frame, blank()) }, { instanceOf: MalformedFrameError })
  const out = blank()
  compact.decode(learned, out, 0, learned.byteLength, createReceiverTemplates())
  t.like(out, { kind: CompactKind.learned, type: 'sys.learned', body: [sent.nonce, 1] })
})

test('a confirmation under another nonce is ignored; a reset takes a new nonce, forgets what was learned and never reuses a number', t => {
  const { sent, receive } = pair()
  receive(compact.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', hit(1), sent))
  const before = sent.entry('/sink', '/driver', 'tpl.hit')
  t.true(before?.confirmed)
  const nonce = sent.nonce
  sent.reset()
  t.not(sent.nonce, nonce)
  const after = sent.entry('/sink', '/driver', 'tpl.hit')
  t.false(after?.confirmed)
  t.true((after?.ref ?? 0) > (before?.ref ?? 0))
  t.false(sent.has(before?.ref as number))
  sent.confirm(nonce, [after?.ref as number])
  t.false(after?.confirmed, 'a report about the table before the reset')
  t.is(form(compact.encode(CompactKind.dispatch, 2, -1, '/sink', '/driver', '', hit(2), sent)), KIND_DEFINES)
})

test('a definition under a new nonce starts the receiver\'s table afresh', t => {
  const { sent, heard, receive } = pair()
  receive(compact.encode(CompactKind.dispatch, 1, -1, '/a', '/driver', '', hit(1), sent))
  const oldRef = sent.entry('/a', '/driver', 'tpl.hit')?.ref as number
  t.truthy(heard.get(oldRef))
  sent.reset()
  receive(compact.encode(CompactKind.dispatch, 2, -1, '/b', '/driver', '', hit(2), sent))
  t.is(heard.get(oldRef), undefined)
  t.is(heard.size, 1)
})

test('both tables are bounded: past the limit messages go untemplated, and still arrive', t => {
  const { sent, heard, receive } = pair()
  for (let i = 0; i < MAX_TEMPLATES; i++) receive(compact.encode(CompactKind.dispatch, i, -1, `/a${i}`, '/d', '', hit(i), sent))
  t.is(heard.size, MAX_TEMPLATES)
  t.is(sent.entry('/over', '/d', 'tpl.hit'), undefined)
  const frame = compact.encode(CompactKind.dispatch, 5, -1, '/over', '/d', '', hit(5), sent)
  t.is(form(frame), 0)
  t.like(receive(frame), { to: '/over', body: hit(5) })
  const other = createSenderTemplates()
  t.false(heard.learn(other.nonce === sent.nonce ? other.nonce + 1 : sent.nonce, 99_999, '/x', '/y', 'tpl.hit', () => undefined), 'a full receiver learns nothing more')
})

test('what cannot be templated goes as version 2 writes it: optional fields, a field too many, non-flat values, replies', t => {
  const { sent } = pair()
  const untemplated = [
    compact.encode(CompactKind.dispatch, 1, -1, '/s', '/d', '', { type: 'tpl.opt', seq: 1 }, sent),
    compact.encode(CompactKind.dispatch, 2, -1, '/s', '/d', '', { ...hit(2), extra: 1 }, sent),
    compact.encode(CompactKind.dispatch, 3, -1, '/s', '/d', '', { ...hit(3), payload: { nested: true } }, sent),
    compact.encode(CompactKind.dispatch, 4, -1, '/s', '/d', '', { type: 'tpl.unknown', n: 1 }, sent),
    compact.encode(CompactKind.reply, 5, 2, '/s', '/d', '', hit(5), sent)
  ]
  for (const frame of untemplated) {
    t.is(form(frame), 0)
    t.notThrows(() => { compact.decode(frame, blank()) }, 'a version-2 reader reads it')
  }
})

test('a templated body is read strictly: a value cut short, one missing, a byte after the last, or a nested value is malformed, with the frame\'s id', t => {
  const { sent, receive } = pair()
  receive(compact.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', hit(1), sent))
  const frame = compact.encode(CompactKind.dispatch, 77, -1, '/sink', '/driver', '', hit(4), sent)
  t.is(form(frame), KIND_TEMPLATED)
  const bodyStart = 2 + 1 + 1
  const bad = [
    frame.subarray(0, frame.byteLength - 1),
    frame.subarray(0, frame.byteLength - 9),
    Buffer.concat([frame, Buffer.from([0xc0])]),
    Buffer.concat([frame.subarray(0, bodyStart), Buffer.from([0x81, 0xa1, 0x61, 0x01]), frame.subarray(bodyStart + 1)])
  ]
  for (const b of bad) {
    const err = t.throws(() => { receive(b) }, { instanceOf: MalformedFrameError })
    t.like(err?.details, { id: 77 })
  }
})

test('a definition of a type the receiver does not read the same way (unknown here, or other fields) is delivered but not learned: the sender goes on defining', t => {
  const other = createFlatBodies()
  other.register('tpl.hit', Type.Object({ seq: Type.Integer(), payload: Type.String() }))
  const reader = createCompactEnvelopeCodec({ codec, bodies: other })
  const stranger = createCompactEnvelopeCodec({ codec, bodies: createFlatBodies() })
  for (const c of [reader, stranger]) {
    const sent = createSenderTemplates()
    const heard = createReceiverTemplates()
    const frame = compact.encode(CompactKind.dispatch, 1, -1, '/sink', '/driver', '', hit(1), sent)
    const out = blank()
    c.decode(frame, out, 0, frame.byteLength, heard)
    t.like(out, { to: '/sink', body: hit(1), learned: -1 })
    t.is(heard.size, 0)
  }
})

test('hostile version-3 frames (valid defining, templated, learned and plain frames with bytes changed, cut or added): a typed error or a message, never anything else, and the reader goes on', t => {
  const { sent, heard, receive } = pair()
  const def = compact.encode(CompactKind.ask, 1, -1, '/sink', '/driver', '/r', hit(1), sent)
  receive(def)
  const seeds = [
    def,
    compact.encode(CompactKind.dispatch, 2, -1, '/sink', '/driver', '', hit(2), sent),
    compact.encode(CompactKind.ask, 3, -1, '/sink', '/driver', '/r', hit(3), sent),
    compact.encode(CompactKind.learned, 4, -1, '', '', '', [sent.nonce, 1, 2]),
    compact.encode(CompactKind.dispatch, 5, -1, '/sink', '/other', '', { type: 'tpl.opt', seq: 5, note: 'n' }, sent)
  ]
  const edit = fc.record({
    seed: fc.integer({ min: 0, max: seeds.length - 1 }),
    writes: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    tail: fc.uint8Array({ maxLength: 8 })
  })
  let typed = 0
  fc.assert(fc.property(edit, ({ seed, writes, cut, tail }) => {
    const base = Buffer.from(seeds[seed] as Buffer)
    for (const [at, v] of writes) base[1 + (at % (base.byteLength - 1))] = v
    const frame = Buffer.concat([cut === undefined ? base : base.subarray(0, 1 + (cut % base.byteLength)), tail])
    const out = blank()
    try {
      compact.decode(frame, out, 0, frame.byteLength, heard)
    } catch (err) {
      typed++
      return err instanceof MalformedFrameError || err instanceof UnknownTemplateError
    }
    return typeof out.type === 'string' && out.kind >= 0 && out.kind <= CompactKind.learned
  }), { numRuns: 5_000, seed: 20261206 })
  t.true(typed > 1_000, `${typed} of 5,000 refused`)
  t.like(receive(compact.encode(CompactKind.dispatch, 9, -1, '/sink', '/driver', '', hit(9), sent)), { body: hit(9) }, 'the reader goes on')
})
