import test, { type ExecutionContext } from 'ava'
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { COMPACT_TAG, KIND_DEFINES, KIND_TEMPLATED } from '../../src/codec/compact-envelope.js'
import { silentLogger } from '../../src/log/logger.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createMemoryNetwork } from '../../src/transport/memory-transport.js'
import type { Transport } from '../../src/transport/transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'

const counterProtocol = defineActorProtocol('tplc', {
  'tplc.add': { body: Type.Object({ n: Type.Integer(), note: Type.String() }), reply: Type.Void(), from: 'member' },
  'tplc.get': { body: Type.Object({ k: Type.Integer() }), reply: Type.Object({ total: Type.Integer(), seen: Type.Integer() }), from: 'member' }
})

function counter (): ReturnType<typeof defineActor<typeof counterProtocol.specs>> {
  return defineActor({
    protocol: counterProtocol,
    policy: policies.resume(),
    create: () => {
      let total = 0
      let seen = 0
      return {
        handlers: {
          'tplc.add': (msg) => { total += msg.n; seen++ },
          'tplc.get': (msg) => ({ total: total + msg.k * 0, seen })
        }
      }
    }
  })
}

interface Host { system: ActorSystem, transport: Transport, forms: number[] }

async function host (t: ExecutionContext, net: ReturnType<typeof createMemoryNetwork>, opts: { hostId?: string, envelopes?: number[], transport?: Transport } = {}): Promise<Host> {
  const hostId = opts.hostId ?? randomHostId()
  const transport = opts.transport ?? net.transport({ hostId, ...(opts.envelopes === undefined ? {} : { envelopes: opts.envelopes }) })
  const forms: number[] = []
  transport.on('frame', (_from: string, payload: Buffer) => { if (payload[0] === COMPACT_TAG) forms.push((payload[1] as number) & 0xf0) })
  await transport.start()
  const system = createActorSystem({ hostId, ...(opts.envelopes === undefined ? {} : { envelopes: opts.envelopes }) }, { logger: silentLogger(), codec: createCodec(), transport })
  await system.start()
  system.spawn(null, 'counter', counter())
  t.teardown(async () => { await system.stop(); await transport.stop() })
  return { system, transport, forms }
}

test('between current hosts a stream of flat messages goes by template once learned, both one-way and asked, and arrives whole', async t => {
  const net = createMemoryNetwork()
  const a = await host(t, net)
  const b = await host(t, net)
  const target = ref<typeof counterProtocol.specs>(b.system.hostId, '/counter')
  t.is(a.system.remoting.envelopeTo(b.system.hostId), 3)
  for (let i = 1; i <= 200; i++) {
    a.system.dispatch(target, { type: 'tplc.add', n: i, note: `note ${i}` })
    if (i % 20 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  const got = await retry(async () => {
    const r = await a.system.ask(target, { type: 'tplc.get', k: 1 })
    return r.seen === 200 ? r : undefined
  }, { what: 'all 200 one-way messages' })
  t.is(got.total, 200 * 201 / 2)
  t.true(b.forms.includes(KIND_DEFINES), 'first defined')
  t.true(b.forms.filter(f => f === KIND_TEMPLATED).length > 150, 'then by template')
  for (let i = 0; i < 10; i++) t.is((await a.system.ask(target, { type: 'tplc.get', k: i })).seen, 200)
  t.true(b.forms.slice(-5).every(f => f === KIND_TEMPLATED), 'asks by template too, once learned')
})

test('a current host and one from before version 3 talk in version 2, nothing templated', async t => {
  const net = createMemoryNetwork()
  const a = await host(t, net)
  const old = await host(t, net, { envelopes: [1, 2] })
  t.is(a.system.remoting.envelopeTo(old.system.hostId), 2)
  t.is(old.system.remoting.envelopeTo(a.system.hostId), 2)
  for (const [from, to] of [[a, old], [old, a]] as const) {
    const target = ref<typeof counterProtocol.specs>(to.system.hostId, '/counter')
    for (let i = 1; i <= 50; i++) from.system.dispatch(target, { type: 'tplc.add', n: 1, note: 'x' })
    await retry(async () => (await from.system.ask(target, { type: 'tplc.get', k: 0 })).seen === 50, { what: '50 messages' })
  }
  t.true(a.forms.length > 50 && old.forms.length > 50)
  t.true([...a.forms, ...old.forms].every(f => f === 0), 'no templated or defining frame either way')
})

test('a receiver that no longer knows the templates (its actor system restarted on the same connection) answers with a typed error; the sender starts afresh and later messages arrive', async t => {
  const net = createMemoryNetwork()
  const a = await host(t, net)
  const b = await host(t, net)
  const target = ref<typeof counterProtocol.specs>(b.system.hostId, '/counter')
  for (let i = 0; i < 20; i++) {
    a.system.dispatch(target, { type: 'tplc.add', n: 1, note: 'before' })
    await new Promise(resolve => setImmediate(resolve))
  }
  await retry(async () => (await a.system.ask(target, { type: 'tplc.get', k: 0 })).seen === 20, { what: 'the first messages' })
  t.true(b.forms.includes(KIND_TEMPLATED))
  await b.system.stop()
  const fresh = await host(t, net, { hostId: b.system.hostId, transport: b.transport })
  let errors = 0
  const seen = await retry(async () => {
    a.system.dispatch(target, { type: 'tplc.add', n: 1, note: 'after' })
    try {
      return (await a.system.ask(target, { type: 'tplc.get', k: 0 })).seen || undefined
    } catch (err) {
      errors++
      t.is((err as { code?: string }).code, 'ERR_UNKNOWN_TEMPLATE')
      return undefined
    }
  }, { what: 'messages reaching the restarted receiver' })
  t.true(seen >= 1)
  t.true(fresh.system.stats.badFrames >= 1, 'the unknown template was answered as a bad frame')
  t.true(errors <= 3, `${errors} asks failed before the sender started afresh`)
  const before = fresh.forms.length
  for (let i = 0; i < 3; i++) await a.system.ask(target, { type: 'tplc.get', k: 0 })
  t.true(fresh.forms.slice(before).every(f => f !== 0), 'templated again once learned anew')
})
