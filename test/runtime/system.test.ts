import test, { type ExecutionContext } from 'ava'
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { COMPACT_TAG, CompactKind, createCompactEnvelopeCodec, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { createReceiverTemplates } from '../../src/codec/envelope-templates.js'
import { decodeEnvelope, encodeEnvelope, PROTOCOL_VERSION, SYS_ERROR, type Envelope } from '../../src/codec/envelope.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import {
  ActorCrashedError, ActorNotFoundError, AskTimeoutError, HostUnreachableError, InvalidArgumentError, InvalidMessageError,
  UnknownMessageTypeError, UnknownTemplateError, UnsupportedVersionError
} from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createMemoryNetwork, type MemoryNetwork } from '../../src/transport/memory-transport.js'
import type { Transport } from '../../src/transport/transport.js'
import { RejectionError } from '../../src/errors/roost-error.js'
import { memoryCluster, randomHostId } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'

const counterProtocol = defineActorProtocol('counter', {
  'counter.inc': { body: Type.Object({ by: Type.Integer({ minimum: 1 }) }), reply: Type.Integer(), from: 'member' },
  'counter.get': { body: Type.Object({}), reply: Type.Integer(), from: 'member' },
  'counter.bad': { body: Type.Object({ reason: Type.String() }), reply: Type.Null(), from: 'member' },
  'counter.hang': { body: Type.Object({}), reply: Type.Null(), from: 'member' },
  'counter.refuse': { body: Type.Object({ reason: Type.String() }), reply: Type.Null(), from: 'member' },
  'counter.boom': { body: Type.Object({}), reply: Type.Null(), from: 'member' }
})

/** A counter whose `counter.hang` handler waits for `release()`; `entered` counts hangs started. */
function makeCounter (): { def: ReturnType<typeof defineActor<typeof counterProtocol.specs>>, created: () => number, hanging: () => number, release: () => void } {
  let created = 0
  let hanging = 0
  const waiters: Array<() => void> = []
  let released = false
  const def = defineActor({
    protocol: counterProtocol,
    policy: policies.resume(),
    create: () => {
      created++
      let count = 0
      return {
        handlers: {
          'counter.inc': (msg) => { count += msg.by; return count },
          'counter.get': () => count,
          'counter.bad': (msg) => { throw new InvalidArgumentError(`bad: ${msg.reason}`, { reason: msg.reason }) },
          'counter.refuse': async (msg) => { throw new InvalidArgumentError(`refused: ${msg.reason}`, { reason: msg.reason }) },
          'counter.boom': () => { throw new Error('boom') },
          'counter.hang': async () => {
            hanging++
            if (!released) await new Promise<void>(resolve => { waiters.push(resolve) })
            return null
          }
        }
      }
    }
  })
  return {
    def,
    created: () => created,
    hanging: () => hanging,
    release: () => { released = true; for (const w of waiters.splice(0)) w() }
  }
}

/**
 * Holds the event loop open while a test waits on the runtime's timers (ask timeouts, restart
 * backoff): were they unref'd, as for an agent whose sockets keep it alive, a test with nothing
 * else pending would end before they fire.
 */
function keepAlive (t: ExecutionContext): void {
  const handle = setInterval(() => {}, 60_000)
  t.teardown(() => { clearInterval(handle) })
}

async function cluster (t: ExecutionContext, n: number, opts: { askTimeoutMs?: number } = {}): Promise<ActorSystem[]> {
  keepAlive(t)
  const c = await memoryCluster(n, opts)
  t.teardown(c.stop)
  return c.systems
}

/** Like memoryCluster, but keeps the transports so tests can stop them or send raw bytes. */
async function clusterWithTransports (t: ExecutionContext, n: number): Promise<{ net: MemoryNetwork, systems: ActorSystem[], transports: Transport[] }> {
  const net = createMemoryNetwork()
  const systems: ActorSystem[] = []
  const transports: Transport[] = []
  keepAlive(t)
  t.teardown(async () => {
    for (const s of systems) await s.stop()
    for (const tr of transports) await tr.stop()
  })
  for (let i = 0; i < n; i++) {
    const hostId = randomHostId()
    const transport = net.transport({ hostId, name: `h${i + 1}` })
    transports.push(transport)
    await transport.start()
    const system = createActorSystem({ hostId }, { logger: silentLogger(), codec: createCodec(), transport })
    systems.push(system)
    await system.start()
  }
  return { net, systems, transports }
}

test('local ask gets the reply; dispatch is handled in order', async t => {
  const [s] = await cluster(t, 1)
  if (s === undefined) return t.fail()
  const c = makeCounter()
  t.teardown(c.release)
  const counter = s.spawn(null, 'counter', c.def)
  t.deepEqual(counter, ref(s.hostId, '/counter'))
  t.true(s.has('/counter'))
  t.deepEqual(s.actors(), ['/counter'])

  t.is(await s.ask(counter, { type: 'counter.inc', by: 2 }), 2)
  s.dispatch(counter, { type: 'counter.inc', by: 3 })
  s.dispatch(counter, { type: 'counter.inc', by: 5 })
  // The actor handles its mailbox in order, so the ask sees both dispatches.
  t.is(await s.ask(counter, { type: 'counter.get' }), 10)
  t.is(c.created(), 1)
})

test('ask to a missing actor path rejects with ActorNotFoundError', async t => {
  const [s] = await cluster(t, 1)
  if (s === undefined) return t.fail()
  const err = await t.throwsAsync(s.ask(ref<typeof counterProtocol.specs>(s.hostId, '/nobody'), { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
  t.is(err?.code, 'ERR_ACTOR_NOT_FOUND')
  t.deepEqual(err?.details, { path: '/nobody' })
})

test('ask to a stopped actor rejects with ActorNotFoundError', async t => {
  const [s] = await cluster(t, 1)
  if (s === undefined) return t.fail()
  const counter = s.spawn(null, 'counter', makeCounter().def)
  t.is(await s.ask(counter, { type: 'counter.inc', by: 1 }), 1)
  s.stopActor('/counter')
  t.false(s.has('/counter'))
  await t.throwsAsync(s.ask(counter, { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
})

test('spawning twice at the same path throws InvalidArgumentError', async t => {
  const [s] = await cluster(t, 1)
  if (s === undefined) return t.fail()
  s.spawn(null, 'counter', makeCounter().def)
  t.throws(() => s.spawn(null, 'counter', makeCounter().def), { instanceOf: InvalidArgumentError })
  t.throws(() => s.spawn('/missing-parent', 'x', makeCounter().def), { instanceOf: ActorNotFoundError })
})

test('ask that gets no reply rejects with AskTimeoutError', async t => {
  const [s] = await cluster(t, 1)
  if (s === undefined) return t.fail()
  const c = makeCounter()
  t.teardown(c.release)
  const counter = s.spawn(null, 'counter', c.def)
  const err = await t.throwsAsync(s.ask(counter, { type: 'counter.hang' }, { timeoutMs: 50 }), { instanceOf: AskTimeoutError })
  t.is(err?.code, 'ERR_ASK_TIMEOUT')
  t.like(err?.details, { path: '/counter', type: 'counter.hang', timeoutMs: 50 })
})

test('the system default ask timeout applies when none is given', async t => {
  const [s] = await cluster(t, 1, { askTimeoutMs: 50 })
  if (s === undefined) return t.fail()
  const c = makeCounter()
  t.teardown(c.release)
  const counter = s.spawn(null, 'counter', c.def)
  const err = await t.throwsAsync(s.ask(counter, { type: 'counter.hang' }), { instanceOf: AskTimeoutError })
  t.is(err?.details?.timeoutMs, 50)
})

test('a RejectionError from a handler goes back to the asker and the actor keeps its state', async t => {
  const [s] = await cluster(t, 1)
  if (s === undefined) return t.fail()
  const c = makeCounter()
  const counter = s.spawn(null, 'counter', c.def)
  t.is(await s.ask(counter, { type: 'counter.inc', by: 4 }), 4)
  const err = await t.throwsAsync(s.ask(counter, { type: 'counter.bad', reason: 'nope' }), { instanceOf: InvalidArgumentError })
  t.is(err?.code, 'ERR_INVALID_ARGUMENT')
  t.deepEqual(err?.details, { reason: 'nope' })
  t.is(await s.ask(counter, { type: 'counter.get' }), 4)
  t.is(c.created(), 1)
  t.is(s.stats.crashes, 0)
})

test('an async handler that rejects at once answers the asker and crashes nothing, whichever way the message came', async t => {
  const [a, b] = await cluster(t, 2)
  if (a === undefined || b === undefined) return t.fail()
  const c = makeCounter()
  const counter = b.spawn(null, 'counter', c.def)
  const unhandled: unknown[] = []
  const onUnhandled = (err: unknown): void => { unhandled.push(err) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  // Messages from outside (the control socket's askUntyped, another host) are handled inline: the
  // handler's promise must count as handled from the start, or Node ends the process on it.
  const inline = await t.throwsAsync(b.askUntyped(b.hostId, '/counter', 'counter.refuse', { reason: 'inline' }), { instanceOf: InvalidArgumentError })
  t.deepEqual(inline?.details, { reason: 'inline' })
  const remote = await t.throwsAsync(a.ask(counter, { type: 'counter.refuse', reason: 'remote' }), { instanceOf: InvalidArgumentError })
  t.deepEqual(remote?.details, { reason: 'remote' })
  await t.throwsAsync(b.ask(counter, { type: 'counter.refuse', reason: 'local' }), { instanceOf: InvalidArgumentError })
  t.is(await a.ask(counter, { type: 'counter.inc', by: 2 }), 2)
  t.deepEqual(unhandled, [], 'no rejection went unhandled (an agent would have exited)')
  t.is(b.stats.crashes, 0)
  t.is(c.created(), 1)
})

test('remote ask and dispatch behave like local ones, replies routed back', async t => {
  const [a, b] = await cluster(t, 2)
  if (a === undefined || b === undefined) return t.fail()
  const c = makeCounter()
  const remote = b.spawn(null, 'counter', c.def)
  t.is(remote.host, b.hostId)
  t.false(a.has('/counter'))

  t.is(await a.ask(remote, { type: 'counter.inc', by: 2 }), 2)
  a.dispatch(remote, { type: 'counter.inc', by: 3 })
  a.dispatch(remote, { type: 'counter.inc', by: 5 })
  t.is(await a.ask(remote, { type: 'counter.get' }), 10)
  // The same ref asked locally on its own host sees the same state.
  t.is(await b.ask(remote, { type: 'counter.get' }), 10)
  t.is(a.remoting.pending(), 0)
})

test('messages from another host keep their order around an asynchronous handler, and a crash on one leaves the next handled', async t => {
  const [a, b] = await cluster(t, 2)
  if (a === undefined || b === undefined) return t.fail()
  const c = makeCounter()
  const remote = b.spawn(null, 'counter', c.def)
  // An idle actor handles a message from outside at once; one that goes asynchronous holds the rest in its mailbox.
  a.dispatch(remote, { type: 'counter.hang' })
  for (let i = 1; i <= 3; i++) a.dispatch(remote, { type: 'counter.inc', by: i })
  await retry(async () => c.hanging() === 1, { what: 'the hang started' })
  t.is(await b.ask(remote, { type: 'counter.get' }, { timeoutMs: 200 }).catch(() => -1), -1, 'nothing overtakes the hanging handler')
  c.release()
  t.is(await a.ask(remote, { type: 'counter.get' }), 6)
  const crash = await t.throwsAsync(a.ask(remote, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  t.regex(crash?.message ?? '', /boom/)
  t.is(await a.ask(remote, { type: 'counter.inc', by: 4 }), 10, 'resumed with its state')
  t.is(b.stats.crashes, 1)
  t.is(c.created(), 1)
})

test('remote dispatch alone reaches the actor', async t => {
  const [a, b] = await cluster(t, 2)
  if (a === undefined || b === undefined) return t.fail()
  const remote = b.spawn(null, 'counter', makeCounter().def)
  a.dispatch(remote, { type: 'counter.inc', by: 7 })
  await retry(async () => await b.ask(remote, { type: 'counter.get' }) === 7, { what: 'dispatch handled' })
  t.pass()
})

test('remote errors come back with their class: rejection, missing actor', async t => {
  const [a, b] = await cluster(t, 2)
  if (a === undefined || b === undefined) return t.fail()
  const remote = b.spawn(null, 'counter', makeCounter().def)
  t.is(await a.ask(remote, { type: 'counter.inc', by: 1 }), 1)
  const rejected = await t.throwsAsync(a.ask(remote, { type: 'counter.bad', reason: 'far' }), { instanceOf: InvalidArgumentError })
  t.deepEqual(rejected?.details, { reason: 'far' })
  t.is(await a.ask(remote, { type: 'counter.get' }), 1)
  const missing = await t.throwsAsync(a.ask(ref<typeof counterProtocol.specs>(b.hostId, '/nobody'), { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
  t.is(missing?.code, 'ERR_ACTOR_NOT_FOUND')
})

test('remote ask that gets no reply rejects with AskTimeoutError', async t => {
  const [a, b] = await cluster(t, 2)
  if (a === undefined || b === undefined) return t.fail()
  const c = makeCounter()
  t.teardown(c.release)
  const remote = b.spawn(null, 'counter', c.def)
  await t.throwsAsync(a.ask(remote, { type: 'counter.hang' }, { timeoutMs: 50 }), { instanceOf: AskTimeoutError })
  t.is(a.remoting.pending(), 0)
})

for (const where of ['local', 'remote'] as const) {
  test(`askUntyped validates bodies (${where})`, async t => {
    const [a, b] = await cluster(t, 2)
    if (a === undefined || b === undefined) return t.fail()
    b.spawn(null, 'counter', makeCounter().def)
    const asker = where === 'local' ? b : a

    t.is(await asker.askUntyped(b.hostId, '/counter', 'counter.inc', { by: 3 }), 3)

    const invalid = await t.throwsAsync(asker.askUntyped(b.hostId, '/counter', 'counter.inc', { by: 'three' }), { instanceOf: InvalidMessageError })
    t.is(invalid?.code, 'ERR_INVALID_MESSAGE')
    t.is(invalid?.details?.path, '/by')
    t.regex(invalid?.message ?? '', /'\/by'/)

    const zero = await t.throwsAsync(asker.askUntyped(b.hostId, '/counter', 'counter.inc', { by: 0 }), { instanceOf: InvalidMessageError })
    t.is(zero?.details?.path, '/by')

    const unknown = await t.throwsAsync(asker.askUntyped(b.hostId, '/counter', 'counter.reset', {}), { instanceOf: UnknownMessageTypeError })
    t.is(unknown?.code, 'ERR_UNKNOWN_MESSAGE_TYPE')
    t.like(unknown?.details, { type: 'counter.reset', protocol: 'counter' })

    await t.throwsAsync(asker.askUntyped(b.hostId, '/nobody', 'counter.inc', { by: 1 }), { instanceOf: ActorNotFoundError })
    t.is(b.stats.rejected, 4)

    // A body that is not a map is refused as a rejection naming the type, locally and remotely.
    const notObject = await t.throwsAsync(asker.askUntyped(b.hostId, '/counter', 'counter.inc', [1]), { instanceOf: RejectionError })
    t.is(notObject?.details?.type, 'counter.inc')

    // None of the rejected messages reached the actor.
    t.is(await asker.askUntyped(b.hostId, '/counter', 'counter.get', {}), 3)
  })
}

test('asking a host that stops mid-flight rejects with HostUnreachableError', async t => {
  const { systems: [a, b], transports: [, tb] } = await clusterWithTransports(t, 2)
  if (a === undefined || b === undefined || tb === undefined) return t.fail()
  const c = makeCounter()
  t.teardown(c.release)
  const remote = b.spawn(null, 'counter', c.def)
  // A long timeout: a hang would surface as AskTimeoutError, not as a pass.
  const pending = a.ask(remote, { type: 'counter.hang' }, { timeoutMs: 20_000 })
  await retry(() => c.hanging() === 1, { what: 'handler entered' })
  t.is(a.remoting.pending(), 1)
  await tb.stop()
  const err = await t.throwsAsync(pending, { instanceOf: HostUnreachableError })
  t.is(err?.code, 'ERR_HOST_UNREACHABLE')
  t.is(a.remoting.pending(), 0)
})

test('asking a host whose transport is already stopped rejects with HostUnreachableError', async t => {
  const { systems: [a, b], transports: [, tb] } = await clusterWithTransports(t, 2)
  if (a === undefined || b === undefined || tb === undefined) return t.fail()
  const remote = b.spawn(null, 'counter', makeCounter().def)
  await tb.stop()
  await t.throwsAsync(a.ask(remote, { type: 'counter.get' }, { timeoutMs: 20_000 }), { instanceOf: HostUnreachableError })
})

/** Collects the envelopes a transport receives, of either version. */
function inbox (tr: Transport): Envelope[] {
  const codec = createCodec()
  const compact = createCompactEnvelopeCodec({ codec })
  const templates = createReceiverTemplates()
  const got: Envelope[] = []
  tr.on('frame', (_host, payload) => {
    if (payload[0] !== COMPACT_TAG) {
      got.push(decodeEnvelope(codec, payload))
      return
    }
    const c: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null }
    try {
      compact.decode(payload, c, 0, payload.byteLength, templates)
    } catch (err) {
      if (err instanceof UnknownTemplateError) return // by a template defined before this inbox listened: not an answer the tests look for
      throw err
    }
    if (c.kind === CompactKind.learned) return
    got.push({ v: 2, type: c.type, id: c.id, from: c.from, to: c.to, body: c.body, ...(c.re < 0 ? {} : { re: c.re }), ...(c.kind === CompactKind.ask ? { replyTo: c.replyTo } : {}) })
  })
  return got
}

test('a malformed frame is answered with sys.error, counted, and the next ask still works', async t => {
  const { systems: [a, b], transports: [ta] } = await clusterWithTransports(t, 2)
  if (a === undefined || b === undefined || ta === undefined) return t.fail()
  const remote = b.spawn(null, 'counter', makeCounter().def)
  const received = inbox(ta)

  ta.send(b.hostId, Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00]))
  const error = await retry(() => received.find(e => e.type === SYS_ERROR), { what: 'sys.error back' })
  t.like(error.body, { code: 'ERR_MALFORMED_FRAME' })
  t.is(error.re, undefined)
  t.is(b.stats.badFrames, 1)

  t.is(await a.ask(remote, { type: 'counter.inc', by: 2 }), 2)
  t.is(b.stats.badFrames, 1)
})

test('an envelope of another version is answered with sys.error carrying re = its id', async t => {
  const { systems: [, b], transports: [ta] } = await clusterWithTransports(t, 2)
  if (b === undefined || ta === undefined) return t.fail()
  b.spawn(null, 'counter', makeCounter().def)
  const received = inbox(ta)
  const codec = createCodec()
  ta.send(b.hostId, encodeEnvelope(codec, { v: PROTOCOL_VERSION + 1, type: 'counter.get', id: 4242, from: '', to: '/counter', replyTo: '/ask', body: {} }))
  const error = await retry(() => received.find(e => e.type === SYS_ERROR), { what: 'sys.error back' })
  t.is(error.re, 4242)
  t.like(error.body, { code: UnsupportedVersionError.code })
  t.is(b.stats.badFrames, 1)
})

test('a raw valid envelope sent through the transport is answered with sys.reply', async t => {
  const { systems: [, b], transports: [ta] } = await clusterWithTransports(t, 2)
  if (b === undefined || ta === undefined) return t.fail()
  b.spawn(null, 'counter', makeCounter().def)
  const received = inbox(ta)
  const codec = createCodec()
  ta.send(b.hostId, encodeEnvelope(codec, { v: PROTOCOL_VERSION, type: 'counter.inc', id: 9, from: '', to: '/counter', replyTo: '/ask', body: { by: 6 } }))
  const reply = await retry(() => received.find(e => e.re === 9), { what: 'reply' })
  t.is(reply.type, 'sys.reply')
  t.is(reply.body, 6)
  t.is(reply.to, '/ask')
  t.is(reply.from, '/counter')
  t.is(b.stats.badFrames, 0)
})
