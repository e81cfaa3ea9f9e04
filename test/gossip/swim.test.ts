import test, { type ExecutionContext } from 'ava'
import type { GossipNode } from '../../src/gossip/gossip-node.js'
import { LAN_PROFILE, suspicionBounds } from '../../src/gossip/swim-config.js'
import { DEAD, SUSPECT, type SwimMessage } from '../../src/gossip/swim-messages.js'
import { createSwim, type MemberState } from '../../src/gossip/swim.js'
import { createGossipCluster, type GossipCluster, type GossipClusterInit } from '../helpers/sim/gossip-cluster.js'
import { createVirtualClock } from '../helpers/sim/index.js'

/** One membership change as one host saw it. */
interface Event {
  at: number
  observer: string
  id: string
  state: MemberState
  previous: MemberState | undefined
  incarnation: number
}

function cluster (t: ExecutionContext, init: GossipClusterInit): GossipCluster {
  const c = createGossipCluster(init)
  t.teardown(() => { for (const id of c.ids) c.kill(id) })
  return c
}

/** Every membership change of every host from now on, in the order they happen. */
function record (c: GossipCluster): Event[] {
  const events: Event[] = []
  for (const [observer, node] of c.nodes) {
    node.onMemberChange((m, previous) => {
      events.push({ at: c.sim.clock.now(), observer, id: m.id, state: m.state, previous, incarnation: m.incarnation })
    })
  }
  return events
}

const live = (c: GossipCluster): GossipNode[] => [...c.nodes.values()].filter(n => c.alive(n.id))
const stateOf = (c: GossipCluster, observer: string, id: string): MemberState | undefined => c.nodes.get(observer)?.swim.member(id)?.state
const short = (id: string): string => id.slice(0, 8)

/** Every live host sees every host of `ids` alive (itself included). */
function allAliveEverywhere (c: GossipCluster, ids = c.ids): boolean {
  return live(c).every(n => ids.every(id => n.swim.member(id)?.state === 'alive'))
}

/** Runs until every live host sees every host alive; fails the test past `limitMs` of simulated time. */
function converge (t: ExecutionContext, c: GossipCluster, limitMs = 10_000): void {
  const ok = c.sim.clock.runWhile(() => !allAliveEverywhere(c), limitMs)
  if (!ok) {
    const views = live(c).map(n => `${short(n.id)}: ${n.swim.members().filter(m => m.state === 'alive').length}/${c.ids.length}`)
    t.fail(`no convergence within ${limitMs} simulated ms (seed ${c.sim.seed}): ${views.join(', ')}`)
  }
}

function cut (c: GossipCluster, id: string, on: boolean): void {
  for (const other of c.ids) {
    if (other === id) continue
    if (on) {
      c.sim.network.block(id, other)
      c.sim.network.block(other, id)
    } else {
      c.sim.network.unblock(id, other)
      c.sim.network.unblock(other, id)
    }
  }
}

const describe = (events: Event[]): string => events.slice(0, 12).map(e => `${e.at.toFixed(1)} ${short(e.observer)} sees ${short(e.id)} ${e.previous ?? '-'}→${e.state}#${e.incarnation}`).join('; ')

test('membership converges: every host sees every host alive, with its metadata', t => {
  const c = cluster(t, { hosts: 30, seed: 'swim-converge' })
  converge(t, c, 10_000)
  t.true(c.sim.clock.now() < 10_000)
  for (const n of live(c)) {
    const members = n.swim.members()
    t.is(members.length, 30, `${short(n.id)} knows every host once`)
    t.is(new Set(members.map(m => m.id)).size, 30)
    t.is(members[0]?.id, n.id, 'itself first')
    c.ids.forEach((id, i) => {
      const m = n.swim.member(id)
      t.is(m?.state, 'alive')
      t.is(m?.meta?.name, `s${i}`, 'metadata travels with the alive updates')
    })
  }
  // Stable: nothing changes while nothing happens.
  const events = record(c)
  c.sim.clock.runFor(10_000)
  t.deepEqual(events, [], describe(events))
})

test('a killed host is declared dead by every live host, and nobody else is', t => {
  const c = cluster(t, { hosts: 20, seed: 'swim-kill' })
  converge(t, c)
  c.sim.clock.runFor(2_000)
  const events = record(c)
  const victim = c.ids[5] as string
  c.kill(victim)
  const killedAt = c.sim.clock.now()
  const ok = c.sim.clock.runWhile(() => !live(c).every(n => n.swim.member(victim)?.state === 'dead'), 20_000)
  t.true(ok, `every live host marks the victim dead (seed ${c.sim.seed}): ${live(c).map(n => stateOf(c, n.id, victim)).join(',')}`)
  t.log(`dead everywhere ${(c.sim.clock.now() - killedAt).toFixed(0)} simulated ms after the kill`)
  c.sim.clock.runFor(10_000)

  for (const n of live(c)) {
    t.is(stateOf(c, n.id, victim), 'dead')
    const seen = events.filter(e => e.observer === n.id && e.id === victim).map(e => e.state)
    t.is(seen.filter(s => s === 'dead').length, 1, `${short(n.id)} declared it dead once: ${seen.join(',')}`)
    t.false(seen.includes('alive'), 'and never saw it alive again')
    const m = n.swim.member(victim)
    t.true(m !== undefined && m.downSince > killedAt && m.downSince <= m.changedAt, 'down since it fell (its first suspicion), not since its death')
    if (seen[0] === 'suspect') t.true((m?.downSince ?? 0) < (m?.changedAt ?? 0), 'a suspicion before the death dates the fall')
  }
  const others = events.filter(e => e.id !== victim && e.state !== 'alive')
  t.deepEqual(others, [], `no other host suspected or declared dead: ${describe(others)}`)
  t.true(allAliveEverywhere(c, c.ids.filter(id => id !== victim)))
})

test('a host cut off for less than the minimum suspicion timeout is suspected, refutes, and is never declared dead', t => {
  const c = cluster(t, { hosts: 20, seed: 'swim-blip' })
  const cutMs = 150
  t.true(cutMs < suspicionBounds(LAN_PROFILE, 20).minMs, 'the cut is shorter than any suspicion timeout')
  converge(t, c)
  c.sim.clock.runFor(3_000)
  const events = record(c)
  // A 150 ms cut is not always noticed (nobody may probe the host meanwhile): cut four hosts in turn.
  let suspected = 0
  for (const b of [c.ids[3], c.ids[9], c.ids[14], c.ids[17]] as string[]) {
    const node = c.nodes.get(b) as GossipNode
    const inc0 = node.swim.incarnation()
    const from = events.length
    cut(c, b, true)
    c.sim.clock.runFor(cutMs)
    cut(c, b, false)
    c.sim.clock.runFor(5_000)
    const mine = events.slice(from)
    const wasSuspected = mine.some(e => e.id === b && e.state === 'suspect')
    if (wasSuspected) suspected++
    const verdicts = mine.filter(e => e.state === 'dead' || e.state === 'left')
    t.deepEqual(verdicts, [], `cutting ${short(b)}: nobody was declared dead: ${describe(verdicts)}`)
    const inc = node.swim.incarnation()
    if (wasSuspected) {
      t.true(inc > inc0, `${short(b)} refuted with a higher incarnation`)
      t.true(inc <= inc0 + 2, `${short(b)} refuted the accusation, not every stale copy of it (${inc0} → ${inc})`)
    } else {
      t.is(inc, inc0, `${short(b)} was not suspected and had nothing to refute`)
    }
    for (const n of live(c)) {
      if (n.id === b) continue
      const m = n.swim.member(b)
      t.is(m?.state, 'alive', `${short(n.id)} sees ${short(b)} alive`)
      t.is(m?.incarnation, inc, `${short(n.id)} holds its latest incarnation`)
    }
    t.true(allAliveEverywhere(c))
  }
  t.true(suspected >= 1, `at least one cut was noticed (${suspected} of 4), else this seed tests nothing`)
  t.log(`${suspected} of 4 cuts led to a suspicion`)
})

// Known issue, kept as a deterministic repro. During a 200 ms cut (still under the 260 ms
// suspicion floor), the cut-off host's own failed probe makes it suspect a healthy peer; its
// SUSPECT update burns all its retransmissions on dropped messages, so nobody (the accused
// included) ever hears of it and the accused cannot refute; the lone suspicion then expires and
// the cut-off host declares the healthy peer dead, which everyone accepts until it refutes. A
// fix needs the Lifeguard buddy system to always carry the suspicion on pings to the suspect
// (today it only does while the update is still queued) and the suspect to be probed again in
// time. When this starts passing, turn it into a plain test.
test('a host cut off for 200 ms gets no healthy peer declared dead', t => {
  // Seeds that reproduced it when written (20 hosts, 200 ms, host 9 cut): each must stay clean.
  const verdicts: Event[] = []
  for (const seed of ['y6', 'y11', 'y13', 'y18']) {
    const c = cluster(t, { hosts: 20, seed })
    c.sim.clock.runFor(3_000)
    const events = record(c)
    const b = c.ids[9] as string
    cut(c, b, true)
    c.sim.clock.runFor(200)
    cut(c, b, false)
    c.sim.clock.runFor(4_000)
    verdicts.push(...events.filter(e => e.state === 'dead'))
  }
  t.deepEqual(verdicts, [], describe(verdicts))
})

test('a host back from a cut longer than detection does not get healthy hosts declared dead with the verdicts it reached while cut off', t => {
  const flips: Event[] = []
  for (const seed of ['back-1', 'back-2', 'back-3', 'back-4']) {
    const c = cluster(t, { hosts: 5, seed })
    converge(t, c)
    c.sim.clock.runFor(1_000)
    const b = c.ids[2] as string
    cut(c, b, true)
    const isolated = c.sim.clock.runWhile(() => !c.ids.every(o => o === b || stateOf(c, b, o) === 'dead'), 30_000)
    t.true(isolated, `the cut host declares everyone else dead (seed ${seed})`)
    const events = record(c)
    cut(c, b, false)
    converge(t, c, 15_000)
    c.sim.clock.runFor(3_000)
    flips.push(...events.filter(e => e.observer !== b && e.id !== b && e.state === 'dead'))
  }
  t.deepEqual(flips, [], describe(flips))
})

test('a death claim about a member we have not heard from ourselves is taken at once; about one we just heard from, it only makes us suspect it', t => {
  const clock = createVirtualClock()
  const ids = ['a', 'b', 'c'].map(x => x.repeat(64))
  const [self, quiet, chatty] = ids as [string, string, string]
  const swim = createSwim({ id: self, meta: { name: 'a', region: 'r', addresses: [], version: '0' }, incarnation: 1 }, {
    clock, random: () => 0.5, send: () => {}
  })
  swim.start()
  t.teardown(() => { swim.stop() })
  swim.receive(chatty, { t: 'gossip', u: [{ k: 0, id: quiet, inc: 1 }, { k: 0, id: chatty, inc: 1 }] })
  swim.receive(chatty, { t: 'gossip', u: [{ k: DEAD, id: quiet, inc: 1, by: chatty }] })
  t.is(swim.member(quiet)?.state, 'dead', 'known only by hearsay: the claim stands')
  swim.receive(quiet, { t: 'gossip', u: [{ k: DEAD, id: chatty, inc: 1, by: quiet }] })
  t.is(swim.member(chatty)?.state, 'suspect', 'heard from a moment ago: suspected, so it can answer')
})

test('an accusation about an incarnation already refuted is stale and is not refuted again', t => {
  const clock = createVirtualClock()
  const self = 'a'.repeat(64)
  const other = 'b'.repeat(64)
  const sent: Array<{ to: string, msg: SwimMessage }> = []
  const swim = createSwim({ id: self, meta: { name: 'a', region: 'r', addresses: [], version: '0' }, incarnation: 1 }, {
    clock, random: () => 0.5, send: (to, msg) => { sent.push({ to, msg }) }
  })
  swim.start()
  t.teardown(() => { swim.stop() })
  const accuse = (k: typeof SUSPECT | typeof DEAD, inc: number): void => {
    swim.receive(other, { t: 'gossip', u: [{ k, id: self, inc, by: other }] })
  }
  accuse(SUSPECT, 1)
  t.is(swim.incarnation(), 2, 'refuted')
  const health = swim.localHealth()
  for (let i = 0; i < 5; i++) accuse(SUSPECT, 1)
  accuse(DEAD, 1)
  t.is(swim.incarnation(), 2, 'stale copies change nothing')
  t.is(swim.localHealth(), health, 'nor count against local health')
  accuse(SUSPECT, 2)
  t.is(swim.incarnation(), 3, 'an accusation of the current incarnation is refuted')
  accuse(DEAD, 7)
  t.is(swim.incarnation(), 8, 'and one from the future is jumped over')
  t.is(swim.member(self)?.state, 'alive')
})

test('a partition makes each side declare the other dead, and after heal() every host is alive everywhere again', t => {
  const c = cluster(t, { hosts: 20, seed: 'swim-partition' })
  converge(t, c)
  c.sim.clock.runFor(1_000)
  const a = c.ids.slice(0, 12)
  const b = c.ids.slice(12)
  const sideOf = (id: string): string[] => a.includes(id) ? a : b
  const otherSide = (id: string): string[] => a.includes(id) ? b : a
  c.sim.network.partition(a, b)
  const split = c.sim.clock.runWhile(() => !live(c).every(n => otherSide(n.id).every(o => stateOf(c, n.id, o) === 'dead')), 30_000)
  t.true(split, `each side declares the other dead (seed ${c.sim.seed})`)
  c.sim.clock.runFor(3_000)
  for (const n of live(c)) {
    t.true(sideOf(n.id).every(o => stateOf(c, n.id, o) === 'alive'), `${short(n.id)} still sees its own side alive`)
    t.true(otherSide(n.id).every(o => stateOf(c, n.id, o) === 'dead'), `${short(n.id)} sees the other side dead`)
  }

  c.sim.network.heal()
  const healedAt = c.sim.clock.now()
  const healed = c.sim.clock.runWhile(() => !allAliveEverywhere(c), 15_000)
  t.true(healed, `all alive everywhere within 15 simulated s of heal: ${live(c).map(n => n.swim.members().filter(m => m.state === 'alive').length).join(',')}`)
  t.log(`healed in ${(c.sim.clock.now() - healedAt).toFixed(0)} simulated ms`)
  c.sim.clock.runFor(5_000)
  t.true(allAliveEverywhere(c), 'and it stays so')
  t.true(live(c).every(n => n.swim.members().every(m => m.downSince === 0)), 'alive again: down since nothing')
})

test('a host that leaves is seen as left by all, and stays so', t => {
  const c = cluster(t, { hosts: 20, seed: 'swim-leave' })
  converge(t, c)
  const events = record(c)
  const leaver = c.ids[3] as string
  c.nodes.get(leaver)?.leave()
  t.is(stateOf(c, leaver, leaver), 'left', 'it sees itself as left at once')
  const ok = c.sim.clock.runWhile(() => !live(c).every(n => n.id === leaver || stateOf(c, n.id, leaver) === 'left'), 5_000)
  t.true(ok, `everyone sees it left: ${live(c).map(n => stateOf(c, n.id, leaver)).join(',')}`)
  c.sim.clock.runFor(20_000)
  for (const n of live(c)) if (n.id !== leaver) t.is(stateOf(c, n.id, leaver), 'left', `${short(n.id)}`)
  const about = events.filter(e => e.id === leaver)
  t.true(about.every(e => e.state === 'left'), `never suspected nor dead: ${describe(about)}`)
  t.is(about.length, 19, 'one change per other host')
  const others = events.filter(e => e.id !== leaver && e.state !== 'alive')
  t.deepEqual(others, [], describe(others))
})

test('with 5% message loss for two simulated minutes no live host is ever declared dead', t => {
  const c = cluster(t, { hosts: 20, seed: 'swim-loss' })
  converge(t, c)
  const events = record(c)
  c.sim.network.setLoss(0.05)
  c.sim.clock.runFor(120_000)
  const dropped = c.sim.network.totals().dropped.loss
  t.true(dropped > 1_000, `loss really happened (${dropped} messages dropped)`)
  t.true(events.some(e => e.state === 'suspect'), 'loss causes suspicions (else this tests nothing)')
  const verdicts = events.filter(e => e.state === 'dead' || e.state === 'left')
  t.deepEqual(verdicts, [], `no false dead: ${describe(verdicts)}`)
  c.sim.network.setLoss(0)
  c.sim.clock.runFor(5_000)
  t.true(allAliveEverywhere(c))
})

test('two clusters built with the same seed produce the same membership events', t => {
  const run = (seed: string): Event[] => {
    const c = cluster(t, { hosts: 15, seed, loss: 0.02 })
    const events = record(c)
    c.sim.clock.runFor(3_000)
    c.kill(c.ids[2] as string)
    c.sim.network.partition(c.ids.slice(0, 5), c.ids.slice(5))
    c.sim.clock.runFor(5_000)
    c.sim.network.heal()
    c.sim.clock.runFor(5_000)
    return events
  }
  const first = run('swim-determinism')
  const second = run('swim-determinism')
  t.true(first.length > 100, `enough happened to compare (${first.length} events)`)
  t.true(first.some(e => e.state === 'dead'))
  t.deepEqual(second, first)
  const other = run('swim-determinism-2')
  t.notDeepEqual(other, first, 'a different seed gives a different run')
})

/**
 * `n` hosts; from when they have formed, everything sent to the last one (the flooded host)
 * reaches it at once (its frames are counted on arrival) but is handled only `backlogMs` later,
 * as behind a flood of actor messages in its inbox, while the first host's flood keeps frames
 * arriving there every millisecond.
 */
function backloggedCluster (n: number, withFrameCounts: boolean, backlogMs: number): { views: () => Array<MemberState | undefined>, clock: ReturnType<typeof createVirtualClock>, stop: () => void } {
  const clock = createVirtualClock()
  const ids = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i).repeat(64))
  const flooder = ids[0] as string
  const flooded = ids[n - 1] as string
  const counts = new Map<string, number>()
  const bump = (key: string): void => { counts.set(key, (counts.get(key) ?? 0) + 1) }
  let flooding = false
  const swims = new Map<string, ReturnType<typeof createSwim>>()
  for (const id of ids) {
    swims.set(id, createSwim({ id, meta: { name: id.slice(0, 1), region: 'r', addresses: [], version: '0' }, incarnation: 1 }, {
      clock,
      random: () => 0.5,
      send: (to, msg) => {
        clock.setTimeout(() => {
          bump(`${id}>${to}`)
          clock.setTimeout(() => { swims.get(to)?.receive(id, msg) }, to === flooded && flooding ? backlogMs : 0)
        }, 1)
      },
      ...(withFrameCounts ? { framesFrom: (host: string) => counts.get(`${host}>${id}`) ?? 0 } : {})
    }))
  }
  for (const s of swims.values()) s.start()
  for (const id of ids.slice(1)) swims.get(id)?.join([flooder])
  clock.runFor(2_000)
  flooding = true
  const flood = (): void => {
    if (!flooding) return
    bump(`${flooder}>${flooded}`)
    clock.setTimeout(flood, 1)
  }
  flood()
  return {
    clock,
    views: () => ids.flatMap(o => ids.filter(id => id !== o).map(id => swims.get(o)?.member(id)?.state)),
    stop: () => { flooding = false; for (const s of swims.values()) s.stop() }
  }
}

/** Every state any host had of any other, sampled every 50 ms for `ms`. */
function statesOver (c: ReturnType<typeof backloggedCluster>, ms: number): Set<string> {
  const seen = new Set<string>()
  for (let at = 0; at < ms; at += 50) {
    c.clock.runFor(50)
    for (const s of c.views()) seen.add(s ?? 'unknown')
  }
  return seen
}

test('a host whose frames keep arriving is not suspected while its acks wait behind a backlog; without the frame counts it is declared dead', t => {
  const formed = backloggedCluster(2, false, 0)
  t.deepEqual([...statesOver(formed, 1_000)], ['alive'], 'the pair formed')
  formed.stop()

  const counted = backloggedCluster(2, true, 3_000)
  t.teardown(counted.stop)
  t.deepEqual([...statesOver(counted, 10_000)], ['alive'], 'ten seconds of a 3 s backlog: neither host ever suspected the other')

  const uncounted = backloggedCluster(2, false, 3_000)
  t.teardown(uncounted.stop)
  const seen = statesOver(uncounted, 10_000)
  t.true(seen.has('dead'), `the same backlog without frame counts: the flooded host declares the flooder dead, what the counts prevent (seen: ${[...seen].join(', ')})`)
})
