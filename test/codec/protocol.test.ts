import test from 'ava'
import { Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { defineProtocol, type MessageOf } from '../../src/codec/protocol.js'
import { InvalidMessageError, UnknownMessageTypeError } from '../../src/errors/errors.js'
import { RejectionError } from '../../src/errors/roost-error.js'
import type { ActorSystem } from '../../src/runtime/system.js'
import { ref } from '../../src/runtime/ref.js'

const echo = defineProtocol('echo', {
  'echo.say': { body: Type.Object({ text: Type.String(), times: Type.Optional(Type.Integer({ minimum: 1 })) }), reply: Type.Object({ text: Type.String() }) },
  'echo.nested': { body: Type.Object({ inner: Type.Object({ n: Type.Number() }), tags: Type.Array(Type.String()) }), reply: Type.Null() },
  'echo.ping': { body: Type.Object({}), reply: Type.Literal('pong') }
})

type EchoSpec = typeof echo.specs

test('name and specs are exposed', t => {
  t.is(echo.name, 'echo')
  t.deepEqual(Object.keys(echo.specs).sort(), ['echo.nested', 'echo.ping', 'echo.say'])
})

test('has() knows exactly the declared types', t => {
  t.true(echo.has('echo.say'))
  t.true(echo.has('echo.ping'))
  t.false(echo.has('echo.shout'))
  t.false(echo.has(''))
})

test('parse accepts a valid body and adds type', t => {
  t.deepEqual(echo.parse('echo.say', { text: 'hi' }), { type: 'echo.say', text: 'hi' })
  t.deepEqual(echo.parse('echo.say', { text: 'hi', times: 3 }), { type: 'echo.say', text: 'hi', times: 3 })
  t.deepEqual(echo.parse('echo.nested', { inner: { n: 1.5 }, tags: ['a'] }), { type: 'echo.nested', inner: { n: 1.5 }, tags: ['a'] })
  t.deepEqual(echo.parse('echo.ping', {}), { type: 'echo.ping' })
})

test('a type field in the body is overridden by the real type', t => {
  // The body schema is not closed, so an extra field passes; `type` must still be the one asked.
  const msg = echo.parse('echo.ping', { type: 'echo.say' })
  t.is(msg.type, 'echo.ping')
})

test('unknown type throws UnknownMessageTypeError (a rejection) with type and protocol', t => {
  const err = t.throws(() => echo.parse('echo.shout', { text: 'hi' }), { instanceOf: UnknownMessageTypeError })
  t.is(err?.code, 'ERR_UNKNOWN_MESSAGE_TYPE')
  t.true(err instanceof RejectionError)
  t.deepEqual(err?.details, { type: 'echo.shout', protocol: 'echo' })
  t.regex(err?.message ?? '', /echo\.shout/)
})

const invalid: Array<[string, string, unknown, string]> = [
  ['missing required field', 'echo.say', {}, '/text'],
  ['wrong field type', 'echo.say', { text: 5 }, '/text'],
  ['optional field out of range', 'echo.say', { text: 'x', times: 0 }, '/times'],
  ['optional field not an integer', 'echo.say', { text: 'x', times: 1.5 }, '/times'],
  ['nested field wrong', 'echo.nested', { inner: { n: 'one' }, tags: [] }, '/inner/n'],
  ['array item wrong', 'echo.nested', { inner: { n: 1 }, tags: ['a', 2] }, '/tags/1']
]

for (const [name, type, body, path] of invalid) {
  test(`invalid body (${name}) throws InvalidMessageError naming ${path}`, t => {
    const err = t.throws(() => echo.parse(type, body), { instanceOf: InvalidMessageError })
    t.is(err?.code, 'ERR_INVALID_MESSAGE')
    t.true(err instanceof RejectionError)
    t.is(err?.details?.path, path)
    t.is(err?.details?.type, type)
    t.true(err?.message.includes(`'${path}'`), err?.message)
    t.true(err?.message.includes(type), err?.message)
  })
}

test('a body that is not an object is invalid, at the root', t => {
  for (const body of [null, 'text', 3, [1]]) {
    const err = t.throws(() => echo.parse('echo.say', body), { instanceOf: InvalidMessageError })
    t.is(err?.details?.path, '')
    t.regex(err?.message ?? '', /at '\/'/)
  }
})

test('defining a body with a type property throws', t => {
  const err = t.throws(() => defineProtocol('bad', {
    'bad.msg': { body: Type.Object({ type: Type.String(), x: Type.Number() }), reply: Type.Null() }
  }), { instanceOf: TypeError })
  t.regex(err?.message ?? '', /bad\.msg/)
  t.regex(err?.message ?? '', /'type'/)
})

test('a protocol with no types rejects every message', t => {
  const empty = defineProtocol('empty', {})
  t.throws(() => empty.parse('any.thing', {}), { instanceOf: UnknownMessageTypeError })
})

// Compile-time checks. This function is never called; `tsc --noEmit` fails if any of the
// expect-error directives below is unused, i.e. if a wrong message were to type-check.
function compileTimeChecks (system: ActorSystem): void {
  const echoRef = ref<EchoSpec>('host', '/echo')

  // The right messages compile.
  system.dispatch(echoRef, { type: 'echo.say', text: 'hi' })
  system.dispatch(echoRef, { type: 'echo.ping' })
  const reply: Promise<{ text: string }> = system.ask(echoRef, { type: 'echo.say', text: 'hi', times: 2 })
  void reply

  // @ts-expect-error: message type not declared by the protocol
  system.dispatch(echoRef, { type: 'not.declared' })
  // @ts-expect-error: wrong field type
  system.dispatch(echoRef, { type: 'echo.say', text: 42 })
  // @ts-expect-error: missing required field
  system.dispatch(echoRef, { type: 'echo.say' })
  // @ts-expect-error: nested field of the wrong type
  system.dispatch(echoRef, { type: 'echo.nested', inner: { n: 'one' }, tags: [] })
  // @ts-expect-error: ask with an undeclared type
  void system.ask(echoRef, { type: 'echo.shout', text: 'hi' })
  // @ts-expect-error: the reply of echo.ping is 'pong', not a number
  const wrongReply: Promise<number> = system.ask(echoRef, { type: 'echo.ping' })
  void wrongReply

  const parsed: MessageOf<EchoSpec> = echo.parse('echo.say', {})
  if (parsed.type === 'echo.say') {
    const text: string = parsed.text
    // @ts-expect-error: text is a string, not a number
    const n: number = parsed.text
    void text
    void n
  }
}

test('compile-time checks are type-checked but never run', t => {
  // Referencing the function keeps it from being flagged as unused; it is not called.
  t.is(typeof compileTimeChecks, 'function')
})

test('a type\'s validator is compiled when its first message arrives, once', t => {
  const compile = TypeCompiler.Compile
  let compiled = 0
  const counting = ((...args: Parameters<typeof compile>) => { compiled++; return compile(...args) }) as typeof compile
  TypeCompiler.Compile = counting
  try {
    const p = defineProtocol('lazy', {
      'lazy.a': { body: Type.Object({ n: Type.Number() }), reply: Type.Null() },
      'lazy.b': { body: Type.Object({ s: Type.String() }), reply: Type.Null() }
    })
    t.is(compiled, 0, 'nothing compiled by the definition')
    t.deepEqual(p.parse('lazy.a', { n: 1 }), { type: 'lazy.a', n: 1 })
    t.throws(() => p.parse('lazy.a', { n: 'x' }), { instanceOf: InvalidMessageError })
    t.is(compiled, 1, 'lazy.a compiled once; lazy.b not at all')
    t.throws(() => p.parse('lazy.c', {}), { instanceOf: UnknownMessageTypeError })
    t.is(compiled, 1)
  } finally {
    TypeCompiler.Compile = compile
  }
})

test('a body schema that refuses unnamed fields still takes the message whole, its type included (envelope version 2 sends it so)', t => {
  const strict = defineProtocol('strict', { 's.x': { body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }), reply: Type.Null() } })
  t.deepEqual(strict.parse('s.x', { type: 's.x', n: 1 }), { type: 's.x', n: 1 })
  t.deepEqual(strict.parse('s.x', { n: 2 }), { type: 's.x', n: 2 })
  t.throws(() => strict.parse('s.x', { type: 's.x', n: 1, extra: true }), { instanceOf: InvalidMessageError })
})
