import test from 'ava'
import { createSimulation } from '../helpers/sim/index.js'
import { createRng } from '../helpers/sim/rng.js'
import { createSimNetwork, DEFAULT_JITTER_MS, DEFAULT_LATENCY_MS, type SimNetworkInit } from '../helpers/sim/sim-network.js'
import { createVirtualClock } from '../helpers/sim/virtual-clock.js'

interface Received<M> { at: number, from: string, to: string, msg: M }

function setup<M = string> (opts: Partial<Omit<SimNetworkInit<M>, 'clock' | 'rng'>> = {}, seed: string | number = 'net') {
  const clock = createVirtualClock()
  const network = createSimNetwork<M>({ clock, rng: createRng(seed), ...opts })
  const log: Array<Received<M>> = []
  const attach = (id: string) => network.attach(id, (from, msg) => { log.push({ at: clock.now(), from, to: id, msg }) })
  return { clock, network, log, attach }
}

test('defaults: 0.5 ms latency, 0.2 ms jitter, no loss', t => {
  t.is(DEFAULT_LATENCY_MS, 0.5)
  t.is(DEFAULT_JITTER_MS, 0.2)
  const { clock, log, attach } = setup()
  const a = attach('a')
  attach('b')
  for (let i = 0; i < 1000; i++) a.send('b', `m${i}`)
  clock.runFor(0.5)
  const early = log.filter(r => r.at < 0.5).length
  clock.runFor(1)
  t.is(early, 0)
  t.is(log.length, 1000)
  t.true(log.every(r => r.at >= 0.5 && r.at < 0.7))
})

test('delivers after the latency on virtual time, with the sender id', t => {
  const { clock, network, log, attach } = setup({ latencyMs: 5, jitterMs: 0 })
  const a = attach('a')
  attach('b')
  t.is(a.hostId, 'a')
  a.send('b', 'hello')
  clock.runUntil(4.999)
  t.deepEqual(log, [])
  clock.runUntil(5)
  t.deepEqual(log, [{ at: 5, from: 'a', to: 'b', msg: 'hello' }])
  // A message to self goes through the network too.
  a.send('a', 'me')
  clock.runFor(5)
  t.deepEqual(log.at(-1), { at: 10, from: 'a', to: 'a', msg: 'me' })
  t.is(network.totals().inFlight, 0)
})

test('jitter is uniform in [latency, latency + jitter) and can reorder; without jitter order holds', t => {
  const { clock, log, attach } = setup({ latencyMs: 10, jitterMs: 4 })
  const a = attach('a')
  attach('b')
  for (let i = 0; i < 10_000; i++) a.send('b', String(i))
  clock.runFor(20)
  t.is(log.length, 10_000)
  const delays = log.map(r => r.at)
  t.true(delays.every(d => d >= 10 && d < 14))
  const mean = delays.reduce((x, y) => x + y, 0) / delays.length
  t.true(Math.abs(mean - 12) < 0.05, `mean ${mean}`)
  t.notDeepEqual(log.map(r => r.msg), log.map((_, i) => String(i)), 'jitter reorders, like UDP')

  const fifo = setup({ latencyMs: 10, jitterMs: 0 })
  const x = fifo.attach('x')
  fifo.attach('y')
  for (let i = 0; i < 1000; i++) x.send('y', String(i))
  fifo.clock.runFor(20)
  t.deepEqual(fifo.log.map(r => r.msg), fifo.log.map((_, i) => String(i)))
})

test('loss drops about p of 100k messages (fixed seed), counted as loss', t => {
  const { clock, network, log, attach } = setup({ loss: 0.1 })
  const a = attach('a')
  attach('b')
  for (let i = 0; i < 100_000; i++) a.send('b', 'x')
  clock.runFor(10)
  const s = network.stats('a')
  t.log(`delivered ${log.length}, lost ${s.dropped.loss}`)
  t.is(s.sent.messages, 100_000)
  t.is(s.dropped.loss + log.length, 100_000)
  t.true(s.dropped.loss > 9_500 && s.dropped.loss < 10_500, `lost ${s.dropped.loss}`)
  t.is(network.stats('b').received.messages, log.length)

  network.setLoss(1)
  a.send('b', 'gone')
  network.setLoss(0)
  a.send('b', 'kept')
  clock.runFor(10)
  t.is(log.at(-1)?.msg, 'kept')
  t.is(network.stats('a').dropped.loss, s.dropped.loss + 1)
  t.throws(() => network.setLoss(1.5), { instanceOf: RangeError })
  t.throws(() => network.setLoss(NaN), { instanceOf: RangeError })
})

test('setLink overrides latency and loss between two hosts, both ways', t => {
  const { clock, network, log, attach } = setup({ latencyMs: 1, jitterMs: 0 })
  const a = attach('a')
  const b = attach('b')
  const c = attach('c')
  network.setLink('a', 'b', { latencyMs: 50 })
  a.send('b', 'ab')
  b.send('a', 'ba')
  a.send('c', 'ac')
  c.send('b', 'cb')
  clock.runFor(100)
  t.deepEqual(log.map(r => [r.msg, r.at]), [['ac', 1], ['cb', 1], ['ab', 50], ['ba', 50]])

  network.setLink('b', 'a', { loss: 1 })
  a.send('b', 'lost')
  b.send('a', 'lost too')
  a.send('c', 'fine')
  clock.runFor(100)
  t.deepEqual(log.slice(4).map(r => [r.msg, r.at]), [['fine', 101]], 'the new override replaced the latency one')
  t.is(network.totals().dropped.loss, 2)

  network.clearLink('a', 'b')
  a.send('b', 'back')
  clock.runFor(100)
  t.deepEqual(log.at(-1), { at: 201, from: 'a', to: 'b', msg: 'back' })
  t.throws(() => network.setLink('a', 'b', { loss: -0.1 }), { instanceOf: RangeError })
  t.throws(() => network.setLink('a', 'b', { latencyMs: -1 }), { instanceOf: RangeError })
})

test('a partition drops messages between the groups both ways, in flight too; heal restores', t => {
  const { clock, network, log, attach } = setup({ latencyMs: 10, jitterMs: 0 })
  const ep = Object.fromEntries(['a1', 'a2', 'b1', 'b2'].map(id => [id, attach(id)]))
  const sendAll = (tag: string): void => {
    for (const from of Object.keys(ep)) for (const to of Object.keys(ep)) if (from !== to) ep[from]?.send(to, tag)
  }
  sendAll('before')
  clock.runFor(5)
  network.partition(['a1', 'a2'], ['b1', 'b2']) // cuts the 8 cross messages in flight
  clock.runFor(5)
  t.is(log.length, 4)
  t.true(log.every(r => r.from[0] === r.to[0]))

  sendAll('during')
  clock.runFor(20)
  const during = log.filter(r => r.msg === 'during')
  t.is(during.length, 4)
  t.true(during.every(r => r.from[0] === r.to[0]))
  t.is(network.totals().dropped.partition, 16)
  t.is(network.stats('a1').dropped.partition, 4)

  network.heal()
  sendAll('after')
  clock.runFor(20)
  t.is(log.filter(r => r.msg === 'after').length, 12)
  t.throws(() => network.partition(['a1'], ['a1', 'b1']), { instanceOf: RangeError })
})

test('partitions add up until healed', t => {
  const { clock, network, log, attach } = setup({ jitterMs: 0 })
  const a = attach('a')
  attach('b')
  attach('c')
  network.partition(['a'], ['b'])
  network.partition(['a'], ['c'])
  a.send('b', '1')
  a.send('c', '2')
  clock.runFor(10)
  t.is(log.length, 0)
  network.heal()
  a.send('b', '3')
  a.send('c', '4')
  clock.runFor(10)
  t.deepEqual(log.map(r => r.msg), ['3', '4'])
})

test('block drops one direction only, until unblock', t => {
  const { clock, network, log, attach } = setup({ jitterMs: 0 })
  const a = attach('a')
  const b = attach('b')
  network.block('a', 'b')
  a.send('b', 'a→b')
  b.send('a', 'b→a')
  clock.runFor(10)
  t.deepEqual(log.map(r => r.msg), ['b→a'])
  t.is(network.stats('a').dropped.partition, 1)
  network.heal() // partitions only: the block stays
  a.send('b', 'still blocked')
  network.unblock('a', 'b')
  a.send('b', 'open')
  clock.runFor(10)
  t.deepEqual(log.map(r => r.msg), ['b→a', 'open'])
})

test('detach drops messages in flight and later ones; a detached host sends nothing', t => {
  const { clock, network, log, attach } = setup({ latencyMs: 10, jitterMs: 0, sizeOf: () => 100 })
  const a = attach('a')
  const b = attach('b')
  t.deepEqual(network.hosts(), ['a', 'b'])
  a.send('b', 'in flight')
  clock.runFor(5)
  network.detach('b')
  t.false(network.isAttached('b'))
  t.deepEqual(network.hosts(), ['a'])
  a.send('b', 'to a dead host')
  a.send('nobody', 'to an unknown host')
  b.send('a', 'from the grave')
  clock.runFor(20)
  t.deepEqual(log, [])
  t.deepEqual(network.stats('a').dropped, { loss: 0, partition: 0, detached: 3 })
  t.deepEqual(network.stats('b').sent, { messages: 0, bytes: 0 })
  t.is(network.stats('b').discarded, 1)

  // Restarted: a new endpoint works; the old one stays dead; messages sent to the old
  // incarnation are not delivered to the new one.
  a.send('b', 'to the old b')
  clock.runFor(5)
  network.detach('b')
  const b2 = attach('b')
  t.true(network.isAttached('b'))
  clock.runFor(10)
  b.send('a', 'old endpoint')
  b2.send('a', 'new endpoint')
  a.send('b', 'to the new b')
  clock.runFor(20)
  t.deepEqual(log.map(r => `${r.from}>${r.to}:${r.msg}`), ['b>a:new endpoint', 'a>b:to the new b'])
  t.is(network.stats('b').discarded, 2)
  t.is(network.stats('a').dropped.detached, 4)
  t.throws(() => network.attach('b', () => {}), { message: /already attached/ })
  network.detach('never-seen')
})

test('stats count messages and sizeOf bytes, sent even when dropped; totals add up', t => {
  const { clock, network, attach } = setup<{ body: string }>({ loss: 0.2, sizeOf: m => m.body.length })
  const eps = ['a', 'b', 'c'].map(id => attach(id))
  const rng = createRng('traffic')
  let bytes = 0
  for (let i = 0; i < 3000; i++) {
    const body = 'x'.repeat(1 + rng.int(100))
    bytes += body.length
    rng.pick(eps).send(rng.pick(['a', 'b', 'c', 'gone']), { body })
  }
  network.partition(['a'], ['b'])
  clock.runFor(0.55) // some still in flight
  const mid = network.totals()
  t.is(mid.sent.messages, 3000)
  t.is(mid.sent.bytes, bytes)
  t.true(mid.inFlight > 0)
  t.is(mid.sent.messages, mid.received.messages + mid.dropped.loss + mid.dropped.partition + mid.dropped.detached + mid.inFlight)
  clock.runFor(10)
  const end = network.totals()
  t.is(end.inFlight, 0)
  t.is(end.sent.messages, end.received.messages + end.dropped.loss + end.dropped.partition + end.dropped.detached)
  t.true(end.dropped.loss > 0 && end.dropped.partition > 0 && end.dropped.detached > 0)
  const per = ['a', 'b', 'c'].map(id => network.stats(id))
  t.is(per.reduce((n, s) => n + s.sent.bytes, 0), bytes)
  t.is(per.reduce((n, s) => n + s.received.bytes, 0), end.received.bytes)
  t.true(end.received.bytes > 0 && end.received.bytes < bytes)
  t.deepEqual(network.stats('gone'), { sent: { messages: 0, bytes: 0 }, received: { messages: 0, bytes: 0 }, dropped: { loss: 0, partition: 0, detached: 0 }, discarded: 0 })

  network.resetStats()
  t.deepEqual(network.totals(), { sent: { messages: 0, bytes: 0 }, received: { messages: 0, bytes: 0 }, dropped: { loss: 0, partition: 0, detached: 0 }, discarded: 0, inFlight: 0 })
})

test('without sizeOf, binary messages count their byteLength and others 0', t => {
  const { clock, network, attach } = setup<unknown>({})
  const a = attach('a')
  attach('b')
  a.send('b', new Uint8Array(10))
  a.send('b', Buffer.alloc(7))
  a.send('b', new ArrayBuffer(3))
  a.send('b', { not: 'binary' })
  clock.runFor(1)
  t.deepEqual(network.stats('a').sent, { messages: 4, bytes: 20 })
  t.deepEqual(network.stats('b').received, { messages: 4, bytes: 20 })
})

test('an exception in a handler propagates out of the clock', t => {
  const { clock, network } = setup()
  const a = network.attach('a', () => {})
  network.attach('b', () => { throw new Error('handler failed') })
  a.send('b', 'x')
  t.throws(() => clock.runFor(1), { message: 'handler failed' })
})

test('options are validated', t => {
  const clock = createVirtualClock()
  const rng = createRng(1)
  t.throws(() => createSimNetwork({ clock, rng, loss: 2 }), { instanceOf: RangeError })
  t.throws(() => createSimNetwork({ clock, rng, latencyMs: -1 }), { instanceOf: RangeError })
  t.throws(() => createSimNetwork({ clock, rng, jitterMs: NaN }), { instanceOf: RangeError })
})

/** 50 hosts chatting at random with jitter and loss; returns every delivery in order. */
function chatter (seed: number | string): string[] {
  const sim = createSimulation<number>({ seed, latencyMs: 1, jitterMs: 3, loss: 0.05 })
  const trace: string[] = []
  const ids = Array.from({ length: 50 }, (_, i) => `h${i}`)
  for (const id of ids) {
    const rng = sim.rng.fork(`host:${id}`)
    const ep = sim.network.attach(id, (from, n) => {
      trace.push(`${sim.clock.now()} ${from}>${id} ${n}`)
      if (n > 0) ep.send(rng.pick(ids), n - 1)
    })
    const tick = (): void => {
      ep.send(rng.pick(ids), 5)
      sim.clock.setTimeout(tick, 10 + rng.next() * 10)
    }
    sim.clock.setTimeout(tick, rng.next() * 10)
  }
  sim.clock.runFor(200)
  sim.network.partition(ids.slice(0, 25), ids.slice(25))
  sim.clock.runFor(100)
  sim.network.detach('h7')
  sim.network.heal()
  sim.clock.runFor(100)
  return trace
}

test('determinism: the same seed gives the same delivery trace', t => {
  const first = chatter(1234)
  const second = chatter(1234)
  t.true(first.length > 2_000, `${first.length} deliveries`)
  t.deepEqual(second, first)
  t.notDeepEqual(chatter(1235), first)
})

test('createSimulation wires a clock, a root rng and a network drawing from its fork', t => {
  const sim = createSimulation<string>({ seed: 'wired', startMs: 1_000, latencyMs: 2, jitterMs: 0 })
  t.is(sim.seed, 'wired')
  t.is(sim.clock.now(), 1_000)
  const got: Array<[number, string]> = []
  const a = sim.network.attach('a', () => {})
  sim.network.attach('b', (_from, msg) => got.push([sim.clock.now(), msg]))
  a.send('b', 'hi')
  sim.clock.runFor(5)
  t.deepEqual(got, [[1_002, 'hi']])
  // The network leaves the root stream alone.
  t.is(sim.rng.next(), createRng('wired').next())
})

test('throughput (informational, not asserted)', t => {
  // 1,000 hosts passing 1,000 tokens around at random: every delivery sends one message.
  const sim = createSimulation<number>({ seed: 'throughput', sizeOf: () => 64 })
  const rng = sim.rng.fork('pick')
  const ids = Array.from({ length: 1_000 }, (_, i) => `h${i}`)
  let delivered = 0
  const eps = ids.map(id => {
    const ep = sim.network.attach(id, (_from, n) => {
      delivered++
      ep.send(ids[rng.int(ids.length)] as string, n + 1)
    })
    return ep
  })
  for (let i = 0; i < 1_000; i++) eps[i]?.send(ids[rng.int(ids.length)] as string, 0)
  const start = process.hrtime.bigint()
  t.true(sim.clock.runWhile(() => delivered < 1_000_000, 1_000_000))
  const s = Number(process.hrtime.bigint() - start) / 1e9
  t.is(sim.network.totals().received.messages, delivered)
  t.log(`${delivered} messages in ${(s * 1e3).toFixed(0)} ms → ${(delivered / s / 1e6).toFixed(2)}M messages/s (send + deliver), virtual ${sim.clock.now().toFixed(0)} ms`)
})
