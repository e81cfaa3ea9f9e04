import test, { type ExecutionContext } from 'ava'
import { Value } from '@sinclair/typebox/value'
import { AE_ROWS_PER_MESSAGE, AE_SCHEMAS, createGossipNode, type GossipMessage, type GossipNode } from '../../src/gossip/gossip-node.js'
import { createReplica } from '../../src/gossip/replica.js'
import { createMemoryStore } from '../../src/gossip/replica-store.js'
import type { ChangeEvent, Row, TableName } from '../../src/gossip/rows.js'
import { silentLogger } from '../../src/log/logger.js'
import { createGossipCluster, type GossipCluster, type GossipClusterInit } from '../helpers/sim/gossip-cluster.js'
import { hostKey, hostKeyOf, signed } from '../helpers/host-keys.js'
import { serviceRow } from '../helpers/service-row.js'

function cluster (t: ExecutionContext, init: GossipClusterInit): GossipCluster {
  const c = createGossipCluster(init)
  t.teardown(() => { for (const id of c.ids) c.kill(id) })
  return c
}

const live = (c: GossipCluster): GossipNode[] => [...c.nodes.values()].filter(n => c.alive(n.id))
const node = (c: GossipCluster, i: number): GossipNode => c.nodes.get(c.ids[i] as string) as GossipNode
const short = (id: string): string => id.slice(0, 8)

/** Runs until `pred` holds, for at most `limitMs` simulated ms; fails the test (with `what`) otherwise. */
function until (t: ExecutionContext, c: GossipCluster, what: string, pred: () => boolean, limitMs = 10_000): void {
  if (!c.sim.clock.runWhile(() => !pred(), limitMs)) t.fail(`${what}: not within ${limitMs} simulated ms (seed ${c.sim.seed})`)
}

/** Runs until every live host holds `table/key` matching `pred`. */
function everywhere (t: ExecutionContext, c: GossipCluster, table: TableName, key: string, pred: (row: NonNullable<ReturnType<GossipNode['replica']['get']>>) => boolean, limitMs = 10_000, hosts = (): GossipNode[] => live(c)): void {
  until(t, c, `${table}/${key} everywhere`, () => hosts().every(n => {
    const row = n.replica.get(table, key)
    return row !== undefined && pred(row)
  }), limitMs)
}

const service = (app: string, port = 443): Record<string, unknown> => serviceRow(app, port)
const machine = (id: string, host: string): Record<string, unknown> => ({ id, app: 'web', host, state: 'started', configVersion: 1, health: 'passing' })

test('a row written on one host reaches every host, and so do its updates and its deletion', t => {
  const c = cluster(t, { hosts: 20, seed: 'rows-spread' })
  c.sim.clock.runFor(2_000)
  const writer = node(c, 0)
  const seen = new Map<string, ChangeEvent[]>()
  for (const n of live(c)) {
    const events: ChangeEvent[] = []
    seen.set(n.id, events)
    const off = n.replica.subscribe({ table: 'services' }, e => { events.push(e) })
    t.teardown(off)
  }

  const v1 = writer.write('services', 'web', service('web'))
  everywhere(t, c, 'services', 'web', r => r.version === v1.version, 2_000)
  t.log(`v1 everywhere after ${c.sim.clock.now() - 2_000} simulated ms`)
  const v2 = writer.write('services', 'web', service('web', 8443))
  everywhere(t, c, 'services', 'web', r => r.version === v2.version, 2_000)
  for (const n of live(c)) {
    const row = n.replica.get('services', 'web')
    t.deepEqual(row?.data, service('web', 8443), `${short(n.id)} holds the latest data`)
    t.is(row?.owner, writer.id)
    t.false(row?.ownerDead)
  }

  writer.delete('services', 'web')
  everywhere(t, c, 'services', 'web', r => r.deleted, 2_000)
  c.sim.clock.runFor(5_000)
  for (const n of live(c)) {
    t.is(n.replica.count('services'), 0, `${short(n.id)} holds only the tombstone`)
    const events = seen.get(n.id) ?? []
    const kinds = events.map(e => `${e.kind}@${e.row.version}`)
    t.deepEqual(events.map(e => e.kind), ['upsert', 'upsert', 'delete'], `${short(n.id)} saw each change once, in order: ${kinds.join(',')}`)
    t.true(events.every((e, i) => i === 0 || e.seq > (events[i - 1] as ChangeEvent).seq))
  }
})

test('rows written on both sides of a partition reach the other side after heal', t => {
  const c = cluster(t, { hosts: 20, seed: 'rows-partition' })
  c.sim.clock.runFor(2_000)
  const a = c.ids.slice(0, 10)
  const b = c.ids.slice(10)
  const wa = c.nodes.get(a[1] as string) as GossipNode
  const wb = c.nodes.get(b[1] as string) as GossipNode
  wa.write('services', 'a-before', service('a-before'))
  everywhere(t, c, 'services', 'a-before', () => true, 2_000)
  c.sim.network.partition(a, b)
  c.sim.clock.runFor(5_000)
  wa.write('services', 'a-side', service('a-side'))
  wb.write('services', 'b-side', service('b-side'))
  c.sim.clock.runFor(10_000) // long enough for the broadcasts to run out: after heal, anti-entropy must carry them
  for (const id of a) {
    const r = c.nodes.get(id)?.replica
    t.truthy(r?.get('services', 'a-side'), 'spread within A')
    t.is(r?.get('services', 'b-side'), undefined, 'the partition holds')
  }
  for (const id of b) {
    const r = c.nodes.get(id)?.replica
    t.truthy(r?.get('services', 'b-side'), 'spread within B')
    t.is(r?.get('services', 'a-side'), undefined, 'the partition holds')
  }
  // Each side declared the other dead: rows the other side owns are flagged.
  for (const id of b) t.true(c.nodes.get(id)?.replica.get('services', 'a-before')?.ownerDead, `${short(id)} flags A's row`)
  for (const id of a) t.false(c.nodes.get(id)?.replica.get('services', 'a-before')?.ownerDead, `${short(id)} does not`)

  c.sim.network.heal()
  everywhere(t, c, 'services', 'a-side', r => !r.ownerDead, 20_000)
  everywhere(t, c, 'services', 'b-side', r => !r.ownerDead, 20_000)
  everywhere(t, c, 'services', 'a-before', r => !r.ownerDead, 20_000)
  t.true(live(c).every(n => n.replica.count('services') === 3))
})

test('the rows of a killed host end up flagged ownerDead everywhere, and the flag clears when that host comes back', t => {
  const c = cluster(t, { hosts: 20, seed: 'rows-owner-dead' })
  c.sim.clock.runFor(2_000)
  const victim = node(c, 7)
  const bystander = node(c, 8)
  victim.write('machines', 'm-victim', machine('m-victim', victim.id))
  bystander.write('machines', 'm-bystander', machine('m-bystander', bystander.id))
  everywhere(t, c, 'machines', 'm-victim', r => !r.ownerDead)
  everywhere(t, c, 'machines', 'm-bystander', r => !r.ownerDead)

  const deadEvents: ChangeEvent[] = []
  for (const n of live(c)) t.teardown(n.replica.subscribe({}, e => { if (e.kind === 'owner-dead') deadEvents.push(e) }))
  c.kill(victim.id)
  everywhere(t, c, 'machines', 'm-victim', r => r.ownerDead, 20_000)
  for (const n of live(c)) {
    t.is(n.swim.member(victim.id)?.state, 'dead')
    t.false(n.replica.get('machines', 'm-bystander')?.ownerDead, 'only the dead host\'s rows are flagged')
  }
  t.is(deadEvents.length, 19, 'one owner-dead event per live host')
  t.true(deadEvents.every(e => e.row.key === 'm-victim'))

  // The host restarts under the same id, with a higher incarnation and an empty replica.
  c.sim.clock.runFor(3_000)
  const rng = c.sim.rng.fork('restart')
  const replica = createReplica({ hostId: victim.id }, { logger: silentLogger(), clock: c.sim.clock, store: createMemoryStore(), signer: hostKeyOf(victim.id) })
  const endpoint = c.sim.network.attach(victim.id, (from, msg) => { again.receive(from, msg) })
  const again: GossipNode = createGossipNode({ id: victim.id, meta: { name: 'again', region: 'r0', addresses: [], version: 'sim' }, incarnation: 1_000 }, {
    clock: c.sim.clock,
    random: () => rng.next(),
    send: (to, msg) => { endpoint.send(to, msg) },
    replica,
    sizeOf: (row) => 60 + JSON.stringify(row.data ?? null).length
  })
  replica.start()
  again.start()
  c.nodes.set(victim.id, again)
  again.join([c.ids[0] as string])
  const others = (): GossipNode[] => live(c).filter(n => n.id !== victim.id)
  everywhere(t, c, 'machines', 'm-victim', r => !r.ownerDead, 20_000, others)
  for (const n of others()) {
    const m = n.swim.member(victim.id)
    t.is(m?.state, 'alive')
    t.is(m?.incarnation, 1_000)
    t.is(m?.meta?.name, 'again', 'with its new metadata')
  }
})

test('invalid and foreign rows in ae-rows are rejected without stopping the valid ones', t => {
  const c = cluster(t, { hosts: 10, seed: 'rows-garbage' })
  c.sim.clock.runFor(2_000)
  const receiver = node(c, 2)
  const sender = node(c, 3)
  const foreignOwner = hostKey('gossip-foreign').hostId
  const valid: Row = signed({ table: 'services', key: 'ok', owner: foreignOwner, version: 5_000, deleted: false, data: service('ok') })
  const garbage: unknown[] = [
    null,
    'a string',
    [valid],
    { ...valid, key: 'bad-table', table: 'nope' },
    { ...valid, key: 'bad-data', data: { app: 'x', ports: 'none' } },
    { ...valid, key: 'bad-owner', owner: 'not-hex' },
    { ...valid, key: 'bad-version', version: -1 },
    { ...valid, key: 'bad-tombstone', deleted: true },
    { ...valid, key: 'impostor', owner: receiver.id }, // claims the receiver wrote a row it never wrote
    { ...valid, key: 'forged' }, // the signature covers another key
    { ...valid, key: 'as-sender', owner: sender.id } // signed by foreignOwner, claims the sender
  ]
  const before = receiver.replica.stats()
  receiver.receive(sender.id, { t: 'ae-rows', rows: [...garbage, valid] })
  const after = receiver.replica.stats()
  t.is(after.rejected - before.rejected, garbage.length, 'every bad row is rejected')
  t.is(after.merged - before.merged, 1, 'the valid row is taken')
  t.deepEqual(receiver.replica.list('services').map(r => r.key), ['ok'])

  // It spreads from there like any row; none of the rejected ones does.
  everywhere(t, c, 'services', 'ok', r => r.version === 5_000 && r.owner === foreignOwner, 5_000)
  c.sim.clock.runFor(5_000)
  for (const n of live(c)) t.deepEqual(n.replica.list('services').map(r => r.key), ['ok'], short(n.id))
  t.true(live(c).every(n => n.swim.members().filter(m => m.state === 'alive').length === 10), 'gossip carried on')
})

test('anti-entropy carries a large difference in ae-rows of at most 64 rows (each row costs its receiver a signature check); a larger ae-rows is refused by its schema', t => {
  const c = cluster(t, { hosts: 4, seed: 'rows-ae-chunks' })
  c.sim.clock.runFor(2_000)
  const [lonely, ...rest] = c.ids as [string, ...string[]]
  const writer = c.nodes.get(rest[0] as string) as GossipNode
  const target = c.nodes.get(lonely) as GossipNode
  const sizes: number[] = []
  const receive = target.receive
  target.receive = (from: string, msg: GossipMessage) => {
    if (msg.t === 'ae-rows') sizes.push(msg.rows.length)
    receive(from, msg)
  }
  c.sim.network.partition([lonely], rest)
  c.sim.clock.runFor(5_000)
  for (let i = 0; i < 300; i++) writer.write('services', `bulk-${i}`, service(`bulk-${i}`))
  c.sim.clock.runFor(10_000)
  t.is(target.replica.count('services'), 0, 'the partition held the rows back')
  c.sim.network.heal()
  until(t, c, 'all 300 rows on the healed host', () => target.replica.count('services') === 300, 30_000)
  t.true(sizes.length >= Math.ceil(300 / AE_ROWS_PER_MESSAGE), `in ${sizes.length} messages`)
  t.true(sizes.every(n => n <= AE_ROWS_PER_MESSAGE), `largest ${Math.max(...sizes)} rows`)
  t.true(Value.Check(AE_SCHEMAS['ae-rows'], { rows: Array(AE_ROWS_PER_MESSAGE).fill(null) }))
  t.false(Value.Check(AE_SCHEMAS['ae-rows'], { rows: Array(AE_ROWS_PER_MESSAGE + 1).fill(null) }), 'the membership actor checks its messages against this schema')
})

test('rows in broadcasts are verified: a row forged for another owner or tampered with is rejected, and does not spread', t => {
  const c = cluster(t, { hosts: 5, seed: 'rows-forged-broadcast' })
  c.sim.clock.runFor(2_000)
  const receiver = node(c, 1)
  const liar = node(c, 2)
  const victim = node(c, 3)
  const version = receiver.replica.write('services', 'probe', service('probe')).version + 1_000
  const mine = signed({ table: 'services', key: 'liar', owner: liar.id, version, deleted: false, data: service('liar') })
  const items: unknown[] = [
    { ...mine, key: 'framed', owner: victim.id }, // the liar's signature, the victim named as owner
    { ...mine, key: 'edited', data: service('edited') }, // the liar's own row, altered after signing
    mine
  ]
  const before = receiver.replica.stats().rejectedByCode.ERR_ROW_SIGNATURE ?? 0
  receiver.receive(liar.id, { t: 'gossip', x: items })
  t.is((receiver.replica.stats().rejectedByCode.ERR_ROW_SIGNATURE ?? 0) - before, 2)
  // (The liar itself never takes it: a host refuses rows in its name that it did not write.)
  everywhere(t, c, 'services', 'liar', r => r.owner === liar.id, 5_000, () => live(c).filter(n => n !== liar))
  c.sim.clock.runFor(3_000)
  for (const n of live(c)) {
    t.is(n.replica.get('services', 'framed'), undefined, short(n.id))
    t.is(n.replica.get('services', 'edited'), undefined, short(n.id))
  }
})

test('an anti-entropy digest of another shape is ignored and the host keeps working', t => {
  const c = cluster(t, { hosts: 5, seed: 'rows-odd-digest' })
  c.sim.clock.runFor(2_000)
  const receiver = node(c, 1)
  const sender = node(c, 2)
  // A digest with another bucket count (a host configured differently) is ignored.
  receiver.receive(sender.id, { t: 'ae-digest', digest: [1, 2, 3] })
  c.sim.clock.runFor(100)
  receiver.write('services', 'still', service('still'))
  everywhere(t, c, 'services', 'still', () => true, 2_000)
  t.true(live(c).every(n => n.swim.member(receiver.id)?.state === 'alive'))
})

test('a host that joins after a row was spread learns it from its first anti-entropy rounds, not a regular round later', t => {
  // Regular rounds a minute apart: only the startup rounds can bring the row within seconds.
  const c = cluster(t, { hosts: 5, seed: 'late-joiner', antiEntropyIntervalMs: 60_000 })
  c.sim.clock.runFor(2_000)
  const writer = node(c, 0)
  writer.write('services', 'web', service('web'))
  everywhere(t, c, 'services', 'web', () => true, 2_000)
  // Its broadcast is used up long before the newcomer arrives.
  c.sim.clock.runFor(10_000)
  const id = hostKey('late-joiner/newcomer').hostId
  const rng = c.sim.rng.fork('newcomer')
  const replica = createReplica({ hostId: id }, { logger: silentLogger(), clock: c.sim.clock, store: createMemoryStore(), signer: hostKeyOf(id) })
  const endpoint = c.sim.network.attach(id, (from, msg) => { newcomer.receive(from, msg) })
  const newcomer: GossipNode = createGossipNode({ id, meta: { name: 'newcomer', region: 'r0', addresses: [], version: 'sim' }, incarnation: 1, antiEntropyIntervalMs: 60_000 }, {
    clock: c.sim.clock,
    random: () => rng.next(),
    send: (to, msg) => { endpoint.send(to, msg) },
    replica,
    sizeOf: (row) => 60 + JSON.stringify(row.data ?? null).length
  })
  replica.start()
  newcomer.start()
  t.teardown(() => { newcomer.stop(); c.sim.network.detach(id) })
  newcomer.join([c.ids[1] as string])
  until(t, c, 'the newcomer holds the row written before it joined', () => newcomer.replica.get('services', 'web') !== undefined, 5_000)
  t.deepEqual(newcomer.replica.get('services', 'web')?.data, service('web'))
})
