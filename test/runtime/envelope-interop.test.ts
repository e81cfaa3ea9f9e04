import test, { type ExecutionContext } from 'ava'
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { COMPACT_TAG, CompactKind, createCompactEnvelopeCodec, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { createReceiverTemplates } from '../../src/codec/envelope-templates.js'
import { UnencodableValueError, UnknownMessageTypeError } from '../../src/errors/errors.js'
import { decodeEnvelope, encodeEnvelope, PROTOCOL_VERSION } from '../../src/codec/envelope.js'
import { silentLogger } from '../../src/log/logger.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { HyperswarmTransport } from '../../src/transport/hyperswarm-transport.js'
import { retry } from '../helpers/retry.js'
import { bootstrap, transportInit } from '../transport/dht-harness.js'

// A host from before envelope version 2 — modelled by `envelopes: [1]`: its hello offers nothing
// (the released hello) and it sends and decodes version 1 only — and a current host exchange
// asks, replies, one-way messages and typed errors, both ways, over real hyperswarm
// connections; two current hosts use version 2 between them.

const echoProtocol = defineActorProtocol('echo', {
  'echo.say': { body: Type.Object({ text: Type.String() }), reply: Type.Object({ text: Type.String(), from: Type.String() }), from: 'member' },
  'echo.note': { body: Type.Object({ text: Type.String() }), reply: Type.Void(), from: 'member' },
  /** A body schema that refuses unnamed fields: `type` must still pass in either envelope. */
  'echo.strict': { body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }), reply: Type.Integer(), from: 'member' },
  'echo.notes': { body: Type.Object({}), reply: Type.Array(Type.String()), from: 'member' }
})

const echo = defineActor({
  protocol: echoProtocol,
  policy: policies.resume(),
  create: (ctx) => {
    const notes: string[] = []
    return {
      handlers: {
        'echo.say': (msg) => ({ text: msg.text, from: ctx.system.hostId }),
        'echo.note': (msg) => { notes.push(msg.text) },
        'echo.strict': (msg) => msg.n * 2,
        'echo.notes': () => notes
      }
    }
  }
})

interface Host { system: ActorSystem, transport: HyperswarmTransport, firstBytes: number[] }

async function host (t: ExecutionContext, boot: Awaited<ReturnType<typeof bootstrap>>, envelopes?: number[]): Promise<Host> {
  const codec = createCodec()
  const transport = new HyperswarmTransport(transportInit(boot, envelopes === undefined ? {} : { envelopes }), { logger: silentLogger(), codec })
  const system = createActorSystem({ hostId: transport.hostId, ...(envelopes === undefined ? {} : { envelopes }) }, { logger: silentLogger(), codec, transport })
  const firstBytes: number[] = []
  transport.on('frame', (_from, payload) => { firstBytes.push(payload[0] as number) })
  t.teardown(async () => { await system.stop(); await transport.stop() })
  await transport.start()
  await system.start()
  system.spawn(null, 'echo', echo)
  return { system, transport, firstBytes }
}

async function exchange (t: ExecutionContext, from: Host, to: Host): Promise<void> {
  const target = ref<typeof echoProtocol.specs>(to.system.hostId, '/echo')
  t.deepEqual(await from.system.ask(target, { type: 'echo.say', text: 'hello' }, { timeoutMs: 20_000 }), { text: 'hello', from: to.system.hostId })
  t.is(await from.system.ask(target, { type: 'echo.strict', n: 21 }, { timeoutMs: 20_000 }), 42)
  from.system.dispatch(target, { type: 'echo.note', text: `from ${from.system.hostId.slice(0, 6)}` })
  await retry(async () => (await from.system.ask(target, { type: 'echo.notes' }, { timeoutMs: 20_000 })).includes(`from ${from.system.hostId.slice(0, 6)}`), { what: 'the one-way message' })
  const err = await t.throwsAsync(from.system.askUntyped(to.system.hostId, '/echo', 'echo.nope', {}, { timeoutMs: 20_000 }))
  t.true(err instanceof UnknownMessageTypeError, String(err))
}

test.serial('a host that speaks only envelope version 1 and a current host exchange messages both ways; two current hosts use version 3', async t => {
  const boot = await bootstrap(t)
  const old = await host(t, boot, [1])
  const a = await host(t, boot)
  const b = await host(t, boot)

  await exchange(t, a, old)
  await exchange(t, old, a)
  t.true(old.firstBytes.length > 0)
  t.false(old.firstBytes.includes(COMPACT_TAG), 'the old host got only version-1 envelopes')
  t.false(a.firstBytes.includes(COMPACT_TAG), 'the current host got only version-1 envelopes from the old one')
  t.is(a.system.remoting.envelopeTo(old.system.hostId), 1)
  t.is(old.system.remoting.envelopeTo(a.system.hostId), 1)

  const before = b.firstBytes.length
  await exchange(t, a, b)
  await exchange(t, b, a)
  t.is(a.system.remoting.envelopeTo(b.system.hostId), 3)
  t.is(b.system.remoting.envelopeTo(a.system.hostId), 3)
  // The first frames may go before the hello is seen (version 1); once it is, only compact ones.
  t.is(b.firstBytes.at(-1), COMPACT_TAG)
  t.true(b.firstBytes.slice(before).includes(COMPACT_TAG))
})

test.serial('a version-2 envelope reaching a host that speaks only version 1 is answered and skipped as a bad frame, as the released code did', async t => {
  const boot = await bootstrap(t)
  const old = await host(t, boot, [1])
  const a = await host(t, boot)
  const target = ref<typeof echoProtocol.specs>(old.system.hostId, '/echo')
  t.is((await a.system.ask(target, { type: 'echo.say', text: 'up' }, { timeoutMs: 20_000 })).text, 'up')
  // As a current host would, had it missed that the old one restarted at an older version.
  const compact = createCompactEnvelopeCodec({ codec: createCodec() })
  a.transport.send(old.system.hostId, compact.encode(CompactKind.dispatch, 1, -1, '/echo', '', '', { type: 'echo.note', text: 'x' }))
  await retry(() => old.system.stats.badFrames === 1, { what: 'the bad frame counted' })
  t.is(old.system.stats.badFrames, 1)
  t.is((await a.system.ask(target, { type: 'echo.say', text: 'still' }, { timeoutMs: 20_000 })).text, 'still')
})

test.serial('a malformed version-2 envelope between current hosts is answered with a typed error carrying its id, and skipped', async t => {
  const boot = await bootstrap(t)
  const a = await host(t, boot)
  const b = await host(t, boot)
  const target = ref<typeof echoProtocol.specs>(b.system.hostId, '/echo')
  t.is((await a.system.ask(target, { type: 'echo.say', text: 'up' }, { timeoutMs: 20_000 })).text, 'up')
  t.is(a.system.remoting.envelopeTo(b.system.hostId), 3)
  const compact = createCompactEnvelopeCodec({ codec: createCodec() })
  const templates = createReceiverTemplates()
  const answers: CompactEnvelope[] = []
  a.transport.on('frame', (_from, payload) => {
    if (payload[0] !== COMPACT_TAG) return
    const out: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null }
    compact.decode(payload, out, 0, payload.byteLength, templates)
    answers.push(out)
  })
  // A message body without its type: the header (and so the id) reads, the message does not.
  a.transport.send(b.system.hostId, compact.encode(CompactKind.ask, 77_777, -1, '/echo', '', '/ask', { text: 'no type' }))
  const answer = await retry(() => answers.find(e => e.re === 77_777), { what: 'the answer to the bad frame' })
  t.is(answer.type, 'sys.error')
  t.is((answer.body as { code: string }).code, 'ERR_MALFORMED_FRAME')
  t.is(b.system.stats.badFrames, 1)
  t.is((await a.system.ask(target, { type: 'echo.say', text: 'still' }, { timeoutMs: 20_000 })).text, 'still')
})

const refuser = defineActor({
  protocol: defineActorProtocol('refuser', {
    'refuser.no': { body: Type.Object({}), reply: Type.Void(), from: 'member' }
  }),
  policy: policies.resume(),
  create: () => ({ handlers: { 'refuser.no': () => { throw new UnencodableValueError('refused on purpose') } } })
})

for (const envelopes of [undefined, [1]]) {
  test.serial(`a one-way message that fails on another host is answered with a typed sys.error naming its id and sender path, whether refused before its mailbox or by its handler (receiver speaks ${envelopes === undefined ? 'version 3' : 'version 1 only'})`, async t => {
    const boot = await bootstrap(t)
    const a = await host(t, boot)
    const b = await host(t, boot, envelopes)
    b.system.spawn(null, 'refuser', refuser)
    const target = ref<typeof echoProtocol.specs>(b.system.hostId, '/echo')
    t.is((await a.system.ask(target, { type: 'echo.say', text: 'up' }, { timeoutMs: 20_000 })).text, 'up')
    const version = a.system.remoting.envelopeTo(b.system.hostId)
    t.is(version, envelopes === undefined ? 3 : 1)
    const compact = createCompactEnvelopeCodec({ codec: createCodec() })
    const templates = createReceiverTemplates()
    const answers: Array<{ re: number, to: string, code: string }> = []
    a.transport.on('frame', (_from, payload) => {
      if (payload[0] === COMPACT_TAG) {
        const out: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null }
        compact.decode(payload, out, 0, payload.byteLength, templates)
        if (out.type === 'sys.error') answers.push({ re: out.re, to: out.to, code: (out.body as { code: string }).code })
        return
      }
      const env = decodeEnvelope(createCodec(), payload)
      if (env.type === 'sys.error') answers.push({ re: env.re ?? -1, to: env.to, code: (env.body as { code: string }).code })
    })
    const send = (id: number, to: string, body: { type: string } & Record<string, unknown>): void => {
      if (version >= 2) {
        a.transport.send(b.system.hostId, compact.encode(CompactKind.dispatch, id, -1, to, '/probe', '', body))
        return
      }
      const { type, ...rest } = body
      a.transport.send(b.system.hostId, encodeEnvelope(createCodec(), { v: PROTOCOL_VERSION, type, id, from: '/probe', to, body: rest }))
    }
    send(90_001, '/echo', { type: 'echo.strict', n: 'not a number' })
    send(90_002, '/nobody', { type: 'echo.note', text: 'x' })
    send(90_003, '/refuser', { type: 'refuser.no' })
    await retry(() => answers.length >= 3, { what: 'three answers' })
    t.deepEqual(answers.sort((x, y) => x.re - y.re), [
      { re: 90_001, to: '/probe', code: 'ERR_INVALID_MESSAGE' },
      { re: 90_002, to: '/probe', code: 'ERR_ACTOR_NOT_FOUND' },
      { re: 90_003, to: '/probe', code: 'ERR_UNENCODABLE_VALUE' }
    ])
  })
}
