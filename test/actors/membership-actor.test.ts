import { createCapacityLedger } from '../../src/placement/capacity.js'
import test, { type ExecutionContext } from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { membershipActor, type MembershipInit } from '../../actors/membership/membership-actor.js'
import { MembersChangedSpec, membershipProtocol, StateChangedSpec, type MembershipProtocol, type Member } from '../../actors/membership/messages.js'
import { createCodec } from '../../src/codec/codec.js'
import type { MessageOfType } from '../../src/codec/protocol.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { InvalidArgumentError, InvalidMessageError, SenderNotAllowedError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref, type Ref } from '../../src/runtime/ref.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createMemoryNetwork, type MemoryNetwork } from '../../src/transport/memory-transport.js'
import type { Transport } from '../../src/transport/transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { hostKey, hostKeyOf, signed } from '../helpers/host-keys.js'
import { hlcEncode } from '../../src/gossip/hlc.js'
import type { Row } from '../../src/gossip/rows.js'
import { retry } from '../helpers/retry.js'
import { memoryEventLog } from '../helpers/events.js'
import type { EventLog } from '../../src/events/event-log.js'
import { serviceRow } from '../helpers/service-row.js'

const MEMBERSHIP = '/agent/membership'

/** The `/agent` root: membership runs under it, as in the agent. */
const agentProtocol = defineActorProtocol('test-agent', {
  'agent.ping': { body: Type.Object({}), reply: Type.Null(), from: 'member' }
})
const agentRoot = defineActor({
  protocol: agentProtocol,
  policy: policies.resume(),
  create: () => ({ handlers: { 'agent.ping': () => null } })
})

const subscriberProtocol = defineActorProtocol('test-subscriber', {
  'state.changed': StateChangedSpec,
  /** Answers once everything queued before it was handled: the number of events so far. */
  'sub.flush': { body: Type.Object({}), reply: Type.Integer(), from: 'member' }
})
type StateChanged = MessageOfType<typeof subscriberProtocol.specs, 'state.changed'>

/** A local actor that records the `state.changed` events it receives. */
function subscriber (into: StateChanged[]): ReturnType<typeof defineActor<typeof subscriberProtocol.specs>> {
  return defineActor({
    protocol: subscriberProtocol,
    policy: policies.resume(),
    create: () => ({ handlers: { 'state.changed': (msg) => { into.push(msg) }, 'sub.flush': () => into.length } })
  })
}

const watcherProtocol = defineActorProtocol('test-member-watcher', {
  'state.changed': StateChangedSpec,
  'members.changed': MembersChangedSpec,
  /** Answers once everything queued before it was handled: the number of events so far. */
  'watch.flush': { body: Type.Object({}), reply: Type.Integer(), from: 'member' }
})
type MembersChanged = MessageOfType<typeof watcherProtocol.specs, 'members.changed'>

/** A local actor that records the `members.changed` events it receives. */
function memberWatcher (into: MembersChanged[]): ReturnType<typeof defineActor<typeof watcherProtocol.specs>> {
  return defineActor({
    protocol: watcherProtocol,
    policy: policies.resume(),
    create: () => ({ handlers: { 'state.changed': () => {}, 'members.changed': (msg) => { into.push(msg) }, 'watch.flush': () => into.length } })
  })
}

interface Host {
  name: string
  system: ActorSystem
  transport: Transport
  membership: Ref<MembershipProtocol>
  events: EventLog
}

/**
 * `n` actor systems on one in-memory network, each with `/agent/membership`. Hosts come up one
 * after another, so the later ones are found through `transport.peers()` and the earlier ones
 * hear of them through the transport's `discover` event.
 */
async function cluster (t: ExecutionContext, n: number, init: (i: number) => Partial<MembershipInit> = () => ({})): Promise<{ net: MemoryNetwork, hosts: Host[] }> {
  const net = createMemoryNetwork()
  const hosts: Host[] = []
  t.teardown(async () => {
    for (const h of hosts) await h.system.stop()
    for (const h of hosts) await h.transport.stop()
  })
  for (let i = 0; i < n; i++) {
    const hostId = randomHostId()
    const name = `m${i + 1}`
    const transport = net.transport({ hostId, name })
    await transport.start()
    const system = createActorSystem({ hostId, defaultAskTimeoutMs: 2_000 }, { logger: silentLogger(), codec: createCodec(), transport })
    const events = await memoryEventLog(name)
    hosts.push({ name, system, transport, membership: ref<MembershipProtocol>(hostId, MEMBERSHIP), events })
    await system.start()
    system.spawn(null, 'agent', agentRoot)
    system.spawn('/agent', 'membership', membershipActor({ name, version: '0', region: 'r1', ...init(i) }, { transport, signer: hostKeyOf(hostId), capacity: createCapacityLedger({ cpus: 8, memoryMb: 4096 }), events }))
  }
  return { net, hosts }
}

const list = async (h: Host): Promise<Member[]> => (await h.system.ask(h.membership, { type: 'membership.list' })).members

/** Waits until every host lists every host of `hosts` alive. */
async function converged (hosts: Host[], what = 'membership converges'): Promise<void> {
  await retry(async () => {
    for (const h of hosts) {
      const members = await list(h)
      if (!hosts.every(o => members.find(m => m.hostId === o.system.hostId)?.state === 'alive')) return false
    }
    return true
  }, { timeoutMs: 4_000, what })
}

const service = (app: string): Record<string, unknown> => serviceRow(app)

test('membership.list converges to every host alive, with names and regions', async t => {
  const { hosts } = await cluster(t, 3, i => ({ region: `r${i + 1}` }))
  await converged(hosts)
  // Names and regions are checked apart from state: with real timers on a loaded machine a host
  // may be suspected for a moment after convergence.
  for (const h of hosts) {
    const members = await list(h)
    t.is(members.length, 3, `${h.name} lists each host once`)
    for (const [i, o] of hosts.entries()) {
      const m = members.find(x => x.hostId === o.system.hostId)
      t.is(m?.name, o.name)
      t.is(m?.region, `r${i + 1}`)
      t.is(m?.version, '0')
      t.is(m?.self, o === h)
      t.true((m?.incarnation ?? 0) > 0)
    }
  }
})

test('membership.write on one host shows up in membership.state on the others', async t => {
  const { hosts } = await cluster(t, 3)
  const [h1, h2, h3] = hosts as [Host, Host, Host]
  await converged(hosts)
  const row = await h1.system.ask(h1.membership, { type: 'membership.write', table: 'services', key: 'web', data: service('web') })
  t.is(row.owner, h1.system.hostId)
  t.false(row.deleted)
  for (const h of [h2, h3]) {
    const got = await retry(async () => (await h.system.ask(h.membership, { type: 'membership.state', table: 'services' })).rows.find(r => r.key === 'web'),
      { timeoutMs: 4_000, what: `the row reaches ${h.name}` })
    t.is(got.version, row.version)
    t.is(got.owner, h1.system.hostId)
    t.deepEqual(got.data, service('web'))
    t.false(got.ownerDead)
  }
  // Every host also published its own `hosts` row, and everyone holds all three.
  for (const h of hosts) {
    await retry(async () => (await h.system.ask(h.membership, { type: 'membership.state', table: 'hosts' })).rows.length === 3, { timeoutMs: 4_000, what: `hosts rows on ${h.name}` })
  }
  // A deletion travels too, as a tombstone.
  await h1.system.ask(h1.membership, { type: 'membership.delete', table: 'services', key: 'web' })
  await retry(async () => {
    const rows = (await h3.system.ask(h3.membership, { type: 'membership.state', table: 'services', includeDeleted: true })).rows
    return rows.length === 1 && rows[0]?.deleted === true && (await h3.system.ask(h3.membership, { type: 'membership.state', table: 'services' })).rows.length === 0
  }, { timeoutMs: 4_000, what: 'the tombstone reaches m3' })
  t.pass()
})

test('membership.subscribe delivers state.changed events in order', async t => {
  const { hosts } = await cluster(t, 2)
  const [h1, h2] = hosts as [Host, Host]
  await converged(hosts)
  const events: StateChanged[] = []
  const sub = h1.system.spawn(null, 'sub', subscriber(events))
  const { seq } = await h1.system.ask(h1.membership, { type: 'membership.subscribe', subscriber: '/sub', table: 'services' })
  t.true(Number.isInteger(seq))

  for (let i = 0; i < 5; i++) {
    await h1.system.ask(h1.membership, { type: 'membership.write', table: 'services', key: `local-${i}`, data: service(`local-${i}`) })
    await h2.system.ask(h2.membership, { type: 'membership.write', table: 'services', key: `remote-${i}`, data: service(`remote-${i}`) })
  }
  // A write to another table is filtered out.
  await h1.system.ask(h1.membership, { type: 'membership.write', table: 'machines', key: 'm', data: { id: 'm', app: 'a', host: h1.system.hostId, state: 'started', configVersion: 0, health: 'passing' } })
  await retry(() => events.length >= 10, { timeoutMs: 4_000, what: `10 events (have ${events.length})` })

  const keys = events.map(e => e.row.key)
  for (let i = 0; i < 5; i++) {
    t.true(keys.includes(`local-${i}`))
    t.true(keys.includes(`remote-${i}`))
  }
  t.true(events.every(e => e.row.table === 'services'), 'only the subscribed table')
  t.true(events.every(e => e.kind === 'upsert'))
  t.true(events.every((e, i) => i === 0 || e.seq > (events[i - 1] as StateChanged).seq), `strictly increasing seq: ${events.map(e => e.seq).join(',')}`)
  t.deepEqual(keys.filter(k => k.startsWith('local-')), ['local-0', 'local-1', 'local-2', 'local-3', 'local-4'], 'local writes in write order')
  // Rows from another host arrive in whatever order gossip brings them: only seq order is promised.

  // After unsubscribe nothing more arrives.
  await h1.system.ask(h1.membership, { type: 'membership.unsubscribe', subscriber: '/sub' })
  const count = await h1.system.ask(sub, { type: 'sub.flush' })
  await h1.system.ask(h1.membership, { type: 'membership.write', table: 'services', key: 'after', data: service('after') })
  // Had the write been forwarded, its event would sit in /sub's mailbox ahead of this flush.
  t.is(await h1.system.ask(sub, { type: 'sub.flush' }), count)
  t.false(events.some(e => e.row.key === 'after'))
})

test('membership.fault is refused unless the actor was started with faults: true', async t => {
  const { hosts } = await cluster(t, 3, i => i === 2 ? { faults: true } : {})
  const [h1, h2, h3] = hosts as [Host, Host, Host]
  await converged(hosts)
  const err = await t.throwsAsync(h1.system.ask(h1.membership, { type: 'membership.fault', block: [h2.system.hostId] }))
  t.true(err instanceof InvalidArgumentError, `${err?.constructor.name}: ${err?.message}`)
  // Refused over the wire as well (only this host may send it), and nothing was blocked: the cluster stays whole.
  const remote = await t.throwsAsync(h3.system.ask(h1.membership, { type: 'membership.fault', block: [] }))
  t.true(remote instanceof SenderNotAllowedError, `${remote?.constructor.name}`)

  // With faults on, blocking cuts the host off: the others declare it dead, then alive again once lifted.
  await h3.system.ask(h3.membership, { type: 'membership.fault', block: [h1.system.hostId, h2.system.hostId] })
  const stateOf3 = async (h: Host): Promise<string | undefined> => (await list(h)).find(m => m.hostId === h3.system.hostId)?.state
  await retry(async () => (await stateOf3(h1)) === 'dead' && (await stateOf3(h2)) === 'dead', { timeoutMs: 4_000, what: 'm3 declared dead' })
  await retry(async () => (await list(h1)).find(m => m.hostId === h2.system.hostId)?.state === 'alive', { timeoutMs: 4_000, what: 'm1 and m2 still see each other' })
  await h3.system.ask(h3.membership, { type: 'membership.fault', block: [] })
  await converged(hosts, 'm3 alive again after the fault is lifted')
})

test('membership.leave from another host is refused: the host stays alive on every peer', async t => {
  const { hosts } = await cluster(t, 3)
  const [h1, h2, h3] = hosts as [Host, Host, Host]
  await converged(hosts)
  const forged = await t.throwsAsync(h2.system.ask(h1.membership, { type: 'membership.leave' }, { from: MEMBERSHIP }))
  t.true(forged instanceof SenderNotAllowedError, `${forged?.constructor.name}: ${forged?.message}`)
  t.is((forged as SenderNotAllowedError).code, 'ERR_SENDER_NOT_ALLOWED')
  // A leave from the host itself goes through; once the peers saw it, they would have seen a forged one sent before it.
  await h3.system.ask(h3.membership, { type: 'membership.leave' })
  const stateOf = async (h: Host, of: Host): Promise<string | undefined> => (await list(h)).find(m => m.hostId === of.system.hostId)?.state
  await retry(async () => (await stateOf(h1, h3)) === 'left' && (await stateOf(h2, h3)) === 'left', { timeoutMs: 4_000, what: 'm3 left on m1 and m2' })
  t.is(await stateOf(h2, h1), 'alive')
  t.is(await stateOf(h3, h1), 'alive')
  t.is(await stateOf(h1, h1), 'alive')
  t.is(h1.system.stats.crashes, 0)
})

test('bodies that fail validation are rejected with InvalidMessageError and the actor keeps working', async t => {
  const { hosts } = await cluster(t, 2)
  const [h1, h2] = hosts as [Host, Host]
  await converged(hosts)
  const bad: Array<[string, unknown]> = [
    ['gossip.ping', { seq: 1, target: 'not-a-host-id' }],
    ['gossip.ping', { seq: -1, target: h1.system.hostId }],
    ['gossip.sync', { members: [{ k: 9, id: h2.system.hostId, inc: 0 }], reply: false }],
    ['gossip.ae-rows', { rows: 'nope' }],
    ['membership.write', { table: 'nope', key: 'k', data: {} }],
    ['membership.write', { table: 'services', key: '', data: {} }],
    ['membership.subscribe', { subscriber: 'relative/path' }],
    ['membership.fault', { block: ['x'] }]
  ]
  for (const [type, body] of bad) {
    const local = await t.throwsAsync(h1.system.askUntyped(h1.system.hostId, MEMBERSHIP, type, body))
    t.true(local instanceof InvalidMessageError, `${type} ${JSON.stringify(body)} locally: ${local?.constructor.name}: ${local?.message}`)
    // Types only this host may send are refused for their sender before their body is looked at.
    const expected = membershipProtocol.senderRule(type) === 'member' ? InvalidMessageError : SenderNotAllowedError
    const remote = await t.throwsAsync(h2.system.askUntyped(h1.system.hostId, MEMBERSHIP, type, body))
    t.true(remote instanceof expected, `${type} ${JSON.stringify(body)} from another host: ${remote?.constructor.name}: ${remote?.message}`)
  }
  t.true(h1.system.stats.rejected >= bad.length * 2)
  t.is(h1.system.stats.crashes, 0, 'a bad body never reaches the actor')

  // Row data is checked against the table's schema by the replica.
  const badData = await t.throwsAsync(h1.system.ask(h1.membership, { type: 'membership.write', table: 'services', key: 'x', data: { app: 'x', ports: 'none' } }))
  t.true(badData instanceof InvalidMessageError, `${badData?.constructor.name}: ${badData?.message}`)

  // Still working, and still gossiping.
  await converged(hosts, 'membership still converged')
  await h1.system.ask(h1.membership, { type: 'membership.write', table: 'services', key: 'ok', data: service('ok') })
  await retry(async () => (await h2.system.ask(h2.membership, { type: 'membership.state', table: 'services' })).rows.some(r => r.key === 'ok'), { timeoutMs: 4_000, what: 'a row still spreads' })
  t.is(h1.system.stats.crashes, 0)
})

test('gossiped rows that are cyclic, deep, over-wide or forged are rejected one by one; the actor never crashes', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'roost-membership-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const { hosts } = await cluster(t, 1, () => ({ dataDir: dir }))
  const [h1] = hosts as [Host]
  const other = hostKey('membership-other').hostId
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  let deep: Record<string, unknown> = { leaf: true }
  for (let i = 0; i < 3_000; i++) deep = { next: deep }
  const hostRow = (data: Record<string, unknown>): Row => signed({ table: 'hosts', key: other, owner: other, version: hlcEncode(Date.now(), 1), deleted: false, data })
  const hostData = { id: other, name: 'other', region: 'r1', addresses: [], cpusFree: 1, memoryFreeMb: 1, version: '0' }
  const good = signed({ table: 'services', key: 'ok', owner: other, version: hlcEncode(Date.now(), 1), deleted: false, data: service('ok') })
  // In-memory values, as a decoder that let them through would hand them over (sent locally, nothing re-encodes them).
  const rows: unknown[] = [
    { ...hostRow(hostData), data: { ...hostData, loop: cyclic } },
    { ...hostRow(hostData), data: { ...hostData, extra: deep } },
    { ...hostRow(hostData), data: { ...hostData, name: deep } },
    { ...good, key: 'forged' },
    good
  ]
  for (const type of ['gossip.ae-rows', 'gossip.gossip'] as const) {
    const body = type === 'gossip.ae-rows' ? { rows } : { x: rows }
    await h1.system.askUntyped(h1.system.hostId, MEMBERSHIP, type, body)
  }
  t.is(h1.system.stats.crashes, 0)
  t.is(h1.system.stats.restarts, 0)
  const services = (await h1.system.ask(h1.membership, { type: 'membership.state', table: 'services' })).rows
  t.deepEqual(services.map(r => r.key), ['ok'])
  const hostsRows = (await h1.system.ask(h1.membership, { type: 'membership.state', table: 'hosts' })).rows
  t.deepEqual(hostsRows.map(r => r.key), [h1.system.hostId])
  // Still writing through to its store.
  await h1.system.ask(h1.membership, { type: 'membership.write', table: 'services', key: 'after', data: service('after') })
  t.is(h1.system.stats.crashes, 0)
})

test('a member declared dead is handed to the transport\'s hostDown, so what is in flight to it fails now', async t => {
  const { hosts } = await cluster(t, 3)
  const [h1, h2, h3] = hosts as [Host, Host, Host]
  const down: Array<[string, string]> = []
  // The memory transport has no hostDown of its own: record the calls.
  h1.transport.hostDown = (host, reason) => { down.push([host, reason]) }
  await retry(async () => (await list(h1)).filter(m => m.state === 'alive').length === 3, { timeoutMs: 10_000, what: 'all alive' })
  t.deepEqual(down, [], 'never for live members')
  await h3.system.stop()
  await h3.transport.stop()
  await retry(async () => (await list(h1)).find(m => m.hostId === h3.system.hostId)?.state === 'dead', { timeoutMs: 20_000, what: 'h3 declared dead' })
  await retry(() => down.length > 0, { what: 'hostDown called' })
  t.deepEqual(down, [[h3.system.hostId, 'declared dead by gossip']])
  t.false(down.some(([h]) => h === h2.system.hostId))
})

test('a subscriber that asks for members hears of each member state change as it happens; after unsubscribe, of none', async t => {
  const { hosts } = await cluster(t, 3)
  const [h1, h2, h3] = hosts as [Host, Host, Host]
  await converged(hosts)
  const events: MembersChanged[] = []
  const watcher = h1.system.spawn(null, 'watcher', memberWatcher(events))
  const seqBefore = h1.events.since(0, 10_000).events.reduce((max, e) => Math.max(max, e.seq), 0)
  await h1.system.ask(h1.membership, { type: 'membership.subscribe', subscriber: '/watcher', table: 'services', members: true })
  await h3.system.stop()
  await h3.transport.stop()
  await retry(() => events.some(e => e.hostId === h3.system.hostId && e.state === 'dead'), { timeoutMs: 20_000, what: `members.changed: h3 dead (have ${JSON.stringify(events)})` })
  // Exactly the changes h1 went through, in order: h3's, and h2's only if a loaded run really made
  // h1 suspect it. h1's event stream records each change as it notifies the subscribers, so what
  // it held before the flush was all delivered by then, and nothing delivered is missing from it.
  const before = h1.events.since(seqBefore, 10_000).events
  await h1.system.ask(watcher, { type: 'watch.flush' })
  const heard = [...events]
  const after = h1.events.since(seqBefore, 10_000).events
  for (const h of [h3, h2]) {
    const states = (list: typeof before): unknown[] => list.filter(e => e.data?.hostId === h.system.hostId).map(e => e.data?.state)
    const got = heard.filter(e => e.hostId === h.system.hostId).map(e => e.state)
    const what = h === h2 ? 'h2: only changes that happened' : 'h3'
    t.true(got.length >= states(before).length, what)
    t.deepEqual(got, states(after).slice(0, got.length), what)
  }
  await h1.system.ask(h1.membership, { type: 'membership.unsubscribe', subscriber: '/watcher' })
  const count = events.length
  await h2.system.stop()
  await h2.transport.stop()
  await retry(async () => (await list(h1)).find(m => m.hostId === h2.system.hostId)?.state === 'dead', { timeoutMs: 20_000, what: 'h2 declared dead' })
  // Had h2's death been sent, it would sit in /watcher's mailbox ahead of this flush.
  t.is(await h1.system.ask(watcher, { type: 'watch.flush' }), count)
})

test('membership.metrics counts members by state and rows per table, and reports probe round trips and anti-entropy lag', async t => {
  const { hosts } = await cluster(t, 3)
  await converged(hosts)
  const [h1] = hosts as [Host, Host, Host]
  const figures = await retry(async () => {
    const f = await h1.system.ask(h1.membership, { type: 'membership.metrics' })
    const probes = f.probeRtt.counts.reduce((a, b) => a + b, 0)
    return probes > 0 && f.antiEntropyLagMs !== null && f.tables.hosts?.rows === 3 ? f : undefined
  }, { timeoutMs: 10_000, what: 'probes answered, an anti-entropy match and every host row' })
  t.deepEqual(figures.members, { alive: 3, suspect: 0, dead: 0, left: 0 })
  t.is(figures.tables.machines?.rows, 0)
  t.true((figures.antiEntropyLagMs ?? -1) >= 0)
  t.is(figures.probeRtt.counts.length, figures.probeRtt.bounds.length + 1)
})

test('each member state change goes into the host\'s event stream: joined, then suspect or dead, with the member\'s name', async t => {
  const { hosts } = await cluster(t, 3)
  const [h1, , h3] = hosts as [Host, Host, Host]
  await converged(hosts)
  const kinds = (about: Host): string[] => h1.events.since(0, 1000).events.filter(e => e.data?.hostId === about.system.hostId).map(e => e.kind)
  await retry(() => kinds(h3).includes('host.joined'), { what: 'h3 joined in h1\'s events' })
  t.false(h1.events.since(0, 1000).events.some(e => e.data?.hostId === h1.system.hostId), 'a host records no events about itself')
  await h3.system.stop()
  await h3.transport.stop()
  await retry(() => kinds(h3).includes('host.dead'), { timeoutMs: 20_000, what: `h3 dead in h1's events (have ${kinds(h3).join(', ')})` })
  const dead = h1.events.since(0, 1000).events.find(e => e.kind === 'host.dead')
  t.like(dead, { host: h1.name, data: { hostId: h3.system.hostId, name: h3.name, state: 'dead' } })
  t.regex(dead?.message ?? '', new RegExp(`^${h3.name} is dead`))
  const order = kinds(h3)
  t.true(order.indexOf('host.joined') < order.indexOf('host.dead'), order.join(', '))
})
