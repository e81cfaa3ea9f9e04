import test from 'ava'
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { silentLogger } from '../../src/log/logger.js'
import { defineActor } from '../../src/runtime/actor.js'
import type { ActorObserver, MessageFailure, MessageObserver } from '../../src/runtime/observers.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createMemoryNetwork } from '../../src/transport/memory-transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'

const protocol = defineActorProtocol('obs', {
  'obs.sync': { body: Type.Object({}), reply: Type.Integer(), from: 'member' },
  'obs.async': { body: Type.Object({}), reply: Type.Integer(), from: 'member' },
  'obs.hold': { body: Type.Object({}), reply: Type.Null(), from: 'member' }
})

function recorder (): { actors: ActorObserver, messages: MessageObserver, timed: Map<string, number[]>, log: string[], sizes: number[] } {
  const timed = new Map<string, number[]>()
  const log: string[] = []
  const sizes: number[] = []
  return {
    timed,
    log,
    sizes,
    actors: { timerFor: (path) => ({ observe: (s) => { timed.set(path, [...(timed.get(path) ?? []), s]) } }) },
    messages: {
      sent: (host, type, bytes) => { log.push(`sent ${host.slice(0, 4)} ${type}`); sizes.push(bytes) },
      received: (host, type, bytes) => { log.push(`received ${host.slice(0, 4)} ${type}`); sizes.push(bytes) },
      failed: (host, type, why: MessageFailure) => { log.push(`failed ${host.slice(0, 4)} ${type} ${why}`) }
    }
  }
}

test('the actor system times every message handled, sync and async, and reports mailbox depths', async t => {
  const net = createMemoryNetwork()
  const hostId = randomHostId()
  const transport = net.transport({ hostId, name: 'a' })
  await transport.start()
  const r = recorder()
  const system: ActorSystem = createActorSystem({ hostId }, { logger: silentLogger(), codec: createCodec(), transport, actors: r.actors, messages: r.messages })
  await system.start()
  t.teardown(async () => { await system.stop(); await transport.stop() })
  let release: (() => void) | undefined
  system.spawn(null, 'obs', defineActor({
    protocol,
    policy: policies.resume(),
    create: () => ({
      handlers: {
        'obs.sync': () => 1,
        'obs.async': async () => { await new Promise(resolve => setImmediate(resolve)); return 2 },
        'obs.hold': async () => { await new Promise<void>(resolve => { release = resolve }); return null }
      }
    })
  }))
  const obs = ref<typeof protocol.specs>(hostId, '/obs')
  t.is(await system.ask(obs, { type: 'obs.sync' }), 1)
  t.is(await system.ask(obs, { type: 'obs.async' }), 2)
  t.is(r.timed.get('/obs')?.length, 2)
  t.true((r.timed.get('/obs') ?? []).every(s => s >= 0 && s < 60))
  const held = system.ask(obs, { type: 'obs.hold' })
  await retry(() => release !== undefined, { what: 'the actor busy with obs.hold' })
  const queued = [system.ask(obs, { type: 'obs.sync' }), system.ask(obs, { type: 'obs.sync' })]
  t.deepEqual(system.mailboxes(), [{ path: '/obs', depth: 2 }])
  release?.()
  await held
  await Promise.all(queued)
  t.deepEqual(system.mailboxes(), [{ path: '/obs', depth: 0 }])
  t.is(r.timed.get('/obs')?.length, 5)
})

test('remoting reports each message to and from another host with its type, and the errors it answers', async t => {
  const net = createMemoryNetwork()
  const systems: ActorSystem[] = []
  const recs = [recorder(), recorder()]
  for (const [i, r] of recs.entries()) {
    const hostId = randomHostId()
    const transport = net.transport({ hostId, name: `h${i}` })
    await transport.start()
    const system = createActorSystem({ hostId }, { logger: silentLogger(), codec: createCodec(), transport, messages: r.messages })
    await system.start()
    systems.push(system)
    t.teardown(async () => { await system.stop(); await transport.stop() })
  }
  const [a, b] = systems as [ActorSystem, ActorSystem]
  b.spawn(null, 'obs', defineActor({ protocol, policy: policies.resume(), create: () => ({ handlers: { 'obs.sync': () => 1, 'obs.async': async () => 2, 'obs.hold': () => null } }) }))
  t.is(await a.ask(ref<typeof protocol.specs>(b.hostId, '/obs'), { type: 'obs.sync' }), 1)
  await t.throwsAsync(a.askUntyped(b.hostId, '/obs', 'obs.nope', {}))
  const ah = a.hostId.slice(0, 4)
  const bh = b.hostId.slice(0, 4)
  t.deepEqual(recs[0]?.log, [`sent ${bh} obs.sync`, `received ${bh} sys.reply`, `sent ${bh} obs.nope`, `received ${bh} sys.error`])
  t.true(recs.every(r => r.sizes.length === 4 && r.sizes.every(n => n > 0)), 'each with its encoded size')
  t.deepEqual(recs[1]?.log, [`received ${ah} obs.sync`, `sent ${ah} sys.reply`, `received ${ah} obs.nope`, `failed ${ah} obs.nope rejected`, `sent ${ah} sys.error`])
})
