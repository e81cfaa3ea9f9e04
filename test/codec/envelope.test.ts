import test from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import { decodeEnvelope, encodeEnvelope, PROTOCOL_VERSION, SYS_ERROR, SYS_REPLY, type Envelope } from '../../src/codec/envelope.js'
import { MalformedFrameError, UnsupportedVersionError } from '../../src/errors/errors.js'

const codec = createCodec()

const shapes: Array<[string, Envelope]> = [
  ['dispatch (no replyTo, no re)', { v: PROTOCOL_VERSION, type: 'machine.start', id: 1, from: '/agent', to: '/agent/machines', body: { name: 'vm1', cpus: 2 } }],
  ['ask (replyTo, no re)', { v: PROTOCOL_VERSION, type: 'echo.say', id: 2, from: '', to: '/echo', replyTo: '/ask', body: { text: 'hi' } }],
  ['reply (re, no replyTo)', { v: PROTOCOL_VERSION, type: SYS_REPLY, id: 3, from: '/echo', to: '/ask', re: 2, body: { text: 'hi' } }],
  ['error (re, wire error body)', { v: PROTOCOL_VERSION, type: SYS_ERROR, id: 4, from: '', to: '/ask', re: 2, body: { code: 'ERR_ASK_TIMEOUT', message: 'late' } }],
  ['error without re', { v: PROTOCOL_VERSION, type: SYS_ERROR, id: 5, from: '', to: '', body: { code: 'ERR_MALFORMED_FRAME', message: 'bad' } }],
  ['both replyTo and re', { v: PROTOCOL_VERSION, type: 'x.y', id: 6, from: '/a', to: '/b', replyTo: '/a', re: 0, body: null }],
  ['empty-string replyTo', { v: PROTOCOL_VERSION, type: 'x.y', id: 7, from: '', to: '/b', replyTo: '', body: {} }],
  ['null body', { v: PROTOCOL_VERSION, type: SYS_REPLY, id: 8, from: '/b', to: '/a', re: 7, body: null }],
  ['array body', { v: PROTOCOL_VERSION, type: 'x.list', id: 9, from: '/a', to: '/b', body: [1, 'two', { three: 3 }] }],
  ['large id', { v: PROTOCOL_VERSION, type: 'x.y', id: Number.MAX_SAFE_INTEGER, from: '/a', to: '/b', re: Number.MAX_SAFE_INTEGER - 1, body: 'str' }]
]

for (const [name, env] of shapes) {
  test(`round trip: ${name}`, t => {
    const decoded = decodeEnvelope(codec, encodeEnvelope(codec, env))
    t.deepEqual(decoded, env)
    // Absent optional fields stay absent (not present-but-undefined).
    t.is('replyTo' in decoded, env.replyTo !== undefined)
    t.is('re' in decoded, env.re !== undefined)
  })
}

test('the wire form is an array of 8 with null for absent replyTo/re', t => {
  const env: Envelope = { v: PROTOCOL_VERSION, type: 'a.b', id: 10, from: '/f', to: '/t', body: { k: 1 } }
  t.deepEqual(codec.decode(encodeEnvelope(codec, env)), [PROTOCOL_VERSION, 'a.b', 10, '/f', '/t', null, null, { k: 1 }])
})

/** Encodes a raw tuple, bypassing encodeEnvelope's types. */
function raw (fields: unknown[]): Buffer {
  return codec.encode(fields)
}

const good = (): unknown[] => [PROTOCOL_VERSION, 'a.b', 11, '/f', '/t', null, null, {}]
function withField (index: number, value: unknown): unknown[] {
  const f = good()
  f[index] = value
  return f
}

test('bytes that are not msgpack throw MalformedFrameError', t => {
  const err = t.throws(() => decodeEnvelope(codec, Uint8Array.from([0x93, 0x01])), { instanceOf: MalformedFrameError })
  t.is(err?.code, 'ERR_MALFORMED_FRAME')
})

const notEnvelopes: Array<[string, unknown]> = [
  ['a number', 42],
  ['a string', 'envelope'],
  ['null', null],
  ['an object', { v: 1, type: 'a.b', id: 1, from: '', to: '/t', body: {} }],
  ['an empty array', []],
  ['an array of 7', good().slice(0, 7)],
  ['an array of 9', [...good(), 'extra']]
]

for (const [name, value] of notEnvelopes) {
  test(`not an envelope (${name}) throws MalformedFrameError`, t => {
    const err = t.throws(() => decodeEnvelope(codec, codec.encode(value)), { instanceOf: MalformedFrameError })
    t.is(err?.code, 'ERR_MALFORMED_FRAME')
    t.regex(err?.message ?? '', /array of 8/)
    t.is(err?.details, undefined)
  })
}

test('wrong version throws UnsupportedVersionError with details.id when the id is readable', t => {
  const err = t.throws(() => decodeEnvelope(codec, raw(withField(0, PROTOCOL_VERSION + 1))), { instanceOf: UnsupportedVersionError })
  t.is(err?.code, 'ERR_UNSUPPORTED_VERSION')
  t.deepEqual(err?.details, { id: 11 })
})

test('wrong version with an unreadable id throws UnsupportedVersionError without details', t => {
  const f = withField(0, 0)
  f[2] = 'eleven'
  const err = t.throws(() => decodeEnvelope(codec, raw(f)), { instanceOf: UnsupportedVersionError })
  t.is(err?.details, undefined)
})

test('a missing (non-number) version throws MalformedFrameError with details.id', t => {
  const err = t.throws(() => decodeEnvelope(codec, raw(withField(0, '1'))), { instanceOf: MalformedFrameError })
  t.deepEqual(err?.details, { id: 11 })
  t.regex(err?.message ?? '', /version/)
})

const badIds: Array<[string, unknown]> = [
  ['a string', '11'],
  ['null', null],
  ['a float', 1.5],
  ['an unsafe integer', 2 ** 60],
  ['an object', { id: 1 }]
]

for (const [name, id] of badIds) {
  test(`bad id (${name}) throws MalformedFrameError without details`, t => {
    const err = t.throws(() => decodeEnvelope(codec, raw(withField(2, id))), { instanceOf: MalformedFrameError })
    t.regex(err?.message ?? '', /id/)
    t.is(err?.details, undefined)
  })
}

const badFields: Array<[string, number, unknown, RegExp]> = [
  ['type not a string', 1, 5, /type/],
  ['type empty', 1, '', /type/],
  ['type too long', 1, 'x'.repeat(129), /type/],
  ['from not a string', 3, null, /from/],
  ['from too long', 3, '/' + 'a'.repeat(1024), /from/],
  ['to not a string', 4, 7, /to/],
  ['to too long', 4, '/' + 'a'.repeat(1024), /to/],
  ['replyTo a number', 5, 3, /replyTo/],
  ['replyTo too long', 5, '/' + 'a'.repeat(1024), /replyTo/],
  ['re a string', 6, '3', /re must/],
  ['re a float', 6, 2.5, /re must/]
]

for (const [name, index, value, pattern] of badFields) {
  test(`bad field (${name}) throws MalformedFrameError with details.id`, t => {
    const err = t.throws(() => decodeEnvelope(codec, raw(withField(index, value))), { instanceOf: MalformedFrameError })
    t.is(err?.code, 'ERR_MALFORMED_FRAME')
    t.regex(err?.message ?? '', pattern)
    t.deepEqual(err?.details, { id: 11 })
  })
}

test('fields at their length limits are accepted', t => {
  const f = good()
  f[1] = 'x'.repeat(128)
  f[3] = '/' + 'a'.repeat(1023)
  f[4] = '/' + 'b'.repeat(1023)
  f[5] = '/' + 'c'.repeat(1023)
  const env = decodeEnvelope(codec, raw(f))
  t.is(env.type.length, 128)
  t.is(env.replyTo?.length, 1024)
})

test('the body is not checked by the envelope layer', t => {
  for (const body of [null, 1, 'x', [], { deep: { er: [1] } }]) {
    t.deepEqual(decodeEnvelope(codec, raw(withField(7, body))).body, body)
  }
})
