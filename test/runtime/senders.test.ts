import { Writable } from 'node:stream'
import test, { type ExecutionContext } from 'ava'
import { Type } from '@sinclair/typebox'
import { pino } from 'pino'
import { createCodec } from '../../src/codec/codec.js'
import { SenderNotAllowedError } from '../../src/errors/errors.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { defineActorProtocol, senderAllowed } from '../../src/runtime/senders.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createMemoryNetwork } from '../../src/transport/memory-transport.js'
import { randomHostId } from '../helpers/fixtures.js'

const Count = Type.Integer()
const guardedProtocol = defineActorProtocol('guarded', {
  'g.self': { body: Type.Object({}), reply: Count, from: 'self' },
  'g.owner': { body: Type.Object({}), reply: Count, from: 'owner' },
  'g.child': { body: Type.Object({}), reply: Count, from: 'child' },
  'g.host': { body: Type.Object({}), reply: Count, from: 'host' },
  'g.member': { body: Type.Object({}), reply: Count, from: 'member' }
})
type Guarded = typeof guardedProtocol.specs
type GuardedType = keyof Guarded & string


/** Handler runs per actor path and type. */
type Runs = Map<string, number>

function guarded (runs: Runs): ReturnType<typeof defineActor<Guarded>> {
  return defineActor({
    protocol: guardedProtocol,
    policy: policies.resume(),
    create: (ctx) => {
      const run = (type: string): number => {
        const key = `${ctx.path} ${type}`
        const n = (runs.get(key) ?? 0) + 1
        runs.set(key, n)
        return n
      }
      return {
        handlers: {
          'g.self': () => run('g.self'),
          'g.owner': () => run('g.owner'),
          'g.child': () => run('g.child'),
          'g.host': () => run('g.host'),
          'g.member': () => run('g.member')
        }
      }
    }
  })
}

interface Setup {
  h1: ActorSystem
  h2: ActorSystem
  runs: Runs
  /** Warn lines h1 logged. */
  warnings: Array<Record<string, unknown>>
}

/** Two hosts on an in-memory network; h1 runs `/p` and its child `/p/c`, both guarded. */
async function setup (t: ExecutionContext): Promise<Setup> {
  const net = createMemoryNetwork()
  const warnings: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { warnings.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  const systems: ActorSystem[] = []
  t.teardown(async () => { for (const s of systems) await s.stop() })
  for (const [i, logger] of [pino({ level: 'warn' }, sink), pino({ level: 'silent' })].entries()) {
    const hostId = randomHostId()
    const transport = net.transport({ hostId, name: `m${i + 1}` })
    await transport.start()
    const system = createActorSystem({ hostId, defaultAskTimeoutMs: 2_000 }, { logger, codec: createCodec(), transport })
    await system.start()
    systems.push(system)
  }
  const [h1, h2] = systems as [ActorSystem, ActorSystem]
  const runs: Runs = new Map()
  h1.spawn(null, 'p', guarded(runs))
  h1.spawn('/p', 'c', guarded(runs))
  return { h1, h2, runs, warnings }
}

/** Asks `type` of h1's actor at `path` from `by` (an actor path of `from`'s host, '' for code outside actors). */
async function ask (from: ActorSystem, to: ActorSystem, path: string, type: GuardedType, by: string): Promise<number> {
  return await from.ask(ref<Guarded>(to.hostId, path), { type }, by === '' ? {} : { from: by })
}

const allowed: Array<[string, GuardedType, 'local' | 'remote', string]> = [
  ['/p/c', 'g.self', 'local', '/p/c'],
  ['/p/c', 'g.owner', 'local', '/p'],
  ['/p', 'g.owner', 'local', ''],
  ['/p', 'g.child', 'local', '/p/c'],
  ['/p/c', 'g.host', 'local', ''],
  ['/p/c', 'g.host', 'local', '/elsewhere'],
  ['/p/c', 'g.member', 'local', ''],
  ['/p/c', 'g.member', 'remote', '/p/c']
]

const refused: Array<[string, GuardedType, 'local' | 'remote', string]> = [
  ['/p/c', 'g.self', 'local', '/p'],
  ['/p/c', 'g.self', 'local', ''],
  ['/p/c', 'g.self', 'remote', '/p/c'],
  ['/p/c', 'g.owner', 'local', '/p/c'],
  ['/p/c', 'g.owner', 'local', ''],
  ['/p/c', 'g.owner', 'remote', '/p'],
  ['/p', 'g.owner', 'local', '/q'],
  ['/p', 'g.child', 'local', '/p'],
  ['/p', 'g.child', 'local', '/p/c/d'],
  ['/p', 'g.child', 'local', '/pc'],
  ['/p', 'g.child', 'remote', '/p/c'],
  ['/p/c', 'g.host', 'remote', '']
]

test('a message from a sender its type allows reaches the handler', async t => {
  const s = await setup(t)
  for (const [path, type, where, by] of allowed) {
    const before = s.runs.get(`${path} ${type}`) ?? 0
    const n = await ask(where === 'local' ? s.h1 : s.h2, s.h1, path, type, by)
    t.is(n, before + 1, `${type} to ${path} from ${where} ${by}`)
  }
  t.is(s.h1.stats.rejected, 0)
})

test('a message from a sender its type does not allow gets ERR_SENDER_NOT_ALLOWED, one log line, and never reaches the handler', async t => {
  const s = await setup(t)
  for (const [path, type, where, by] of refused) {
    const warned = s.warnings.length
    const err = await t.throwsAsync(ask(where === 'local' ? s.h1 : s.h2, s.h1, path, type, by))
    t.true(err instanceof SenderNotAllowedError, `${type} to ${path} from ${where} ${by}: ${err?.constructor.name}: ${err?.message}`)
    t.is((err as SenderNotAllowedError).code, 'ERR_SENDER_NOT_ALLOWED')
    t.is(s.warnings.length, warned + 1, `one log line for ${type} from ${where} ${by}`)
    t.is(s.warnings.at(-1)?.code, 'ERR_SENDER_NOT_ALLOWED')
  }
  t.is(s.runs.size, 0, 'no handler ran')
  t.is(s.h1.stats.rejected, refused.length)
  t.is(s.h1.stats.crashes, 0)
  // The actors keep working for senders that are allowed.
  t.is(await ask(s.h1, s.h1, '/p/c', 'g.self', '/p/c'), 1)
})

test('untyped and one-way messages are checked too: the control path counts as this host only', async t => {
  const s = await setup(t)
  t.is(await s.h1.askUntyped(s.h1.hostId, '/p/c', 'g.host', {}, { from: '/control' }), 1)
  const remote = await t.throwsAsync(s.h2.askUntyped(s.h1.hostId, '/p/c', 'g.host', {}, { from: '/control' }))
  t.true(remote instanceof SenderNotAllowedError)
  const self = await t.throwsAsync(s.h1.askUntyped(s.h1.hostId, '/p/c', 'g.self', {}, { from: '/p/c' }))
  t.true(self instanceof SenderNotAllowedError, 'a path given to an untyped ask is not believed')
  s.h2.dispatch(ref<Guarded>(s.h1.hostId, '/p/c'), { type: 'g.host' }, { from: '/p/c' })
  s.h1.dispatch(ref<Guarded>(s.h1.hostId, '/p/c'), { type: 'g.self' })
  // Once these later ones are handled, the dispatches before them were refused or handled.
  t.is(await ask(s.h2, s.h1, '/p/c', 'g.member', ''), 1)
  t.is(await ask(s.h1, s.h1, '/p/c', 'g.member', ''), 2)
  t.is(s.runs.get('/p/c g.host'), 1)
  t.is(s.runs.get('/p/c g.self'), undefined)
  t.is(s.h1.stats.rejected, 4)
})

test('a family that leaves out who may send a type does not compile, nor define at run time', t => {
  t.throws(() => {
    // @ts-expect-error `from` is required on every message type
    defineActorProtocol('forgetful', { 'f.x': { body: Type.Object({}), reply: Count } })
  }, { instanceOf: TypeError, message: /f\.x declares unknown sender rule/ })
})

test('senderAllowed: only the host is authenticated, so a path counts only from this host', t => {
  const receiver = { hostId: 'a', path: '/x/y', parent: '/x' }
  t.true(senderAllowed('member', { host: 'b', path: '' }, receiver))
  t.false(senderAllowed('host', { host: 'b', path: '' }, receiver))
  t.false(senderAllowed('self', { host: 'b', path: '/x/y' }, receiver))
  t.true(senderAllowed('self', { host: 'a', path: '/x/y' }, receiver))
  t.true(senderAllowed('owner', { host: 'a', path: '/x' }, receiver))
  t.false(senderAllowed('owner', { host: 'a', path: '' }, receiver))
  t.true(senderAllowed('child', { host: 'a', path: '/x/y/z' }, receiver))
  t.false(senderAllowed('child', { host: 'a', path: '/x/y/' }, receiver))
  t.false(senderAllowed('child', { host: 'a', path: '/x/yz' }, receiver))
})
