import test, { type ExecutionContext } from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCodec } from '../../src/codec/codec.js'
import { InvalidArgumentError, InvalidMessageError, InvalidRowError, NotStartedError } from '../../src/errors/errors.js'
import { differingBuckets } from '../../src/gossip/digest.js'
import { hlcEncode } from '../../src/gossip/hlc.js'
import { createReplica, type Replica, type ReplicaInit } from '../../src/gossip/replica.js'
import { createMemoryStore, type ReplicaStore } from '../../src/gossip/replica-store.js'
import type { ChangeEvent, Row, StoredRow, TableName } from '../../src/gossip/rows.js'
import { createSqliteStore } from '../../src/gossip/sqlite-store.js'
import { pino } from 'pino'
import { silentLogger } from '../../src/log/logger.js'
import type { Clock } from '../../src/runtime/clock.js'
import { hostKeyOf, orderedHostIds, signed } from '../helpers/host-keys.js'
import { serviceRow } from '../helpers/service-row.js'

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0)
const [LOW, LOCAL, HIGH] = orderedHostIds('replica', 3) as [string, string, string]
const TABLE_NAMES = ['hosts', 'machines', 'services'] as const

interface FakeClock extends Clock {
  advance: (ms: number) => void
  set: (ms: number) => void
  pending: () => number
}

/** A clock the test moves by hand; timers fire in due order during `advance`. */
function fakeClock (start = T0): FakeClock {
  let time = start
  let nextId = 1
  const timers = new Map<number, { at: number, fn: () => void }>()
  return {
    now: () => time,
    setTimeout: (fn, ms) => {
      const id = nextId++
      timers.set(id, { at: time + ms, fn })
      return id
    },
    clearTimeout: (handle) => { timers.delete(handle as number) },
    advance (ms) {
      const end = time + ms
      for (;;) {
        let due: [number, { at: number, fn: () => void }] | undefined
        for (const e of timers) if (e[1].at <= end && (due === undefined || e[1].at < due[1].at)) due = e
        if (due === undefined) break
        timers.delete(due[0])
        time = due[1].at
        due[1].fn()
      }
      time = end
    },
    set: (ms) => { time = ms },
    pending: () => timers.size
  }
}

interface Setup { replica: Replica, clock: FakeClock, store: ReplicaStore }

function setup (t: ExecutionContext, init: Partial<ReplicaInit> = {}, parts: Partial<Omit<Setup, 'replica'>> = {}): Setup {
  const clock = parts.clock ?? fakeClock()
  const store = parts.store ?? createMemoryStore()
  const hostId = init.hostId ?? LOCAL
  const replica = createReplica({ ...init, hostId }, { logger: silentLogger(), clock, store, signer: hostKeyOf(hostId) })
  replica.start()
  t.teardown(() => { replica.stop() })
  return { replica, clock, store }
}

const machine = (id: string, host = LOCAL): Record<string, unknown> => ({ id, app: 'web', host, state: 'started', configVersion: 1, health: 'passing' })
const service = (app: string): Record<string, unknown> => serviceRow(app)
const hostData = (id: string): Record<string, unknown> => ({ id, name: 'h', region: 'fra', addresses: ['10.0.0.1'], cpusFree: 2, memoryFreeMb: 512, version: '0.1.0' })
const v = (offsetMs: number, counter = 0): number => hlcEncode(T0 + offsetMs, counter)
const remote = (key: string, version: number, owner: string): Row =>
  signed({ table: 'machines', key, owner, version, deleted: false, data: machine(key, owner) })
const tomb = (key: string, version: number, owner: string): Row => signed({ table: 'machines', key, owner, version, deleted: true, data: null })
const plain = (r: Row): Row => ({ table: r.table, key: r.key, owner: r.owner, version: r.version, deleted: r.deleted, data: r.data, sig: r.sig })
const sorted = (rows: Row[]): Row[] => rows.map(plain).sort((a, b) => `${a.table}/${a.key}`.localeCompare(`${b.table}/${b.key}`))

function collect (replica: Replica, filter: Parameters<Replica['subscribe']>[0] = {}): ChangeEvent[] {
  const events: ChangeEvent[] = []
  replica.subscribe(filter, e => { events.push(e) })
  return events
}

// --- lifecycle ---

test('start and stop are idempotent; stop disarms the expiry timer', t => {
  const clock = fakeClock()
  const replica = createReplica({ hostId: LOCAL }, { logger: silentLogger(), clock, store: createMemoryStore(), signer: hostKeyOf(LOCAL) })
  replica.stop()
  replica.start()
  replica.start()
  t.is(clock.pending(), 1)
  replica.stop()
  replica.stop()
  t.is(clock.pending(), 0)
})

test('changes before start throw NotStartedError; a bad host id is refused', t => {
  const replica = createReplica({ hostId: LOCAL }, { logger: silentLogger(), clock: fakeClock(), store: createMemoryStore(), signer: hostKeyOf(LOCAL) })
  t.throws(() => replica.write('machines', 'm1', machine('m1')), { instanceOf: NotStartedError })
  t.throws(() => replica.merge([remote('m1', v(0), LOW)], LOW), { instanceOf: NotStartedError })
  t.throws(() => replica.markOwnerDead(LOW), { instanceOf: NotStartedError })
  t.throws(() => createReplica({ hostId: 'not-hex' }, { logger: silentLogger(), clock: fakeClock(), store: createMemoryStore(), signer: hostKeyOf(LOCAL) }), { instanceOf: InvalidArgumentError })
})

// --- local writes ---

test('write, get, list, count and delete of local rows', t => {
  const { replica, store } = setup(t)
  const m1 = replica.write('machines', 'm1', machine('m1'))
  const m2 = replica.write('machines', 'm2', machine('m2'))
  replica.write('services', 'web', service('web'))
  t.is(m1.owner, LOCAL)
  t.false(m1.deleted)
  t.true(m2.version > m1.version)
  t.deepEqual(replica.get('machines', 'm1'), m1)
  t.deepEqual(replica.list('machines').map(r => r.key).sort(), ['m1', 'm2'])
  t.is(replica.count(), 3)
  t.is(replica.count('machines'), 2)

  const gone = replica.delete('machines', 'm1')
  t.true(gone.deleted)
  t.is(gone.data, null)
  t.true(gone.version > m2.version)
  t.deepEqual(replica.list('machines').map(r => r.key), ['m2'])
  t.deepEqual(replica.list('machines', { includeDeleted: true }).map(r => r.key).sort(), ['m1', 'm2'])
  t.deepEqual(replica.list('machines', { where: r => r.key === 'm2' }).map(r => r.key), ['m2'])
  t.is(replica.delete('machines', 'm1'), gone)
  t.deepEqual(replica.stats(), { rows: 2, tombstones: 1, rejected: 0, merged: 0, rejectedByCode: {}, skippedOnLoad: 0 })
  t.deepEqual(sorted(store.load()), sorted(replica.list('machines', { includeDeleted: true }).concat(replica.list('services'))))
})

test('write copies the data and returns a frozen row', t => {
  const { replica } = setup(t)
  const data = machine('m1')
  const row = replica.write('machines', 'm1', data)
  data.state = 'changed'
  t.is(replica.get('machines', 'm1')?.data?.state, 'started')
  t.true(Object.isFrozen(row))
  t.throws(() => { (row.data as Record<string, unknown>).state = 'x' }, { instanceOf: TypeError })
})

test('write validates table, key and data; nothing is stored on failure', t => {
  const { replica } = setup(t)
  const err = t.throws(() => replica.write('machines', 'm1', { ...machine('m1'), configVersion: -1 }), { instanceOf: InvalidMessageError })
  t.regex(err?.message ?? '', /machines schema at '\/configVersion'/)
  t.throws(() => replica.write('hosts', 'h', { id: 'short' }), { instanceOf: InvalidMessageError })
  t.throws(() => replica.write('nope' as TableName, 'x', {}), { instanceOf: InvalidArgumentError })
  t.throws(() => replica.write('machines', '', machine('m1')), { instanceOf: InvalidArgumentError })
  t.throws(() => replica.write('machines', 'k'.repeat(257), machine('m1')), { instanceOf: InvalidArgumentError })
  t.is(replica.count(), 0)
})

// --- merge ---

test('merge keeps the larger (version, owner); older and equal rows are no-ops', t => {
  const { replica } = setup(t)
  const events = collect(replica)
  t.is(replica.merge([remote('m1', v(0, 5), LOW)], LOW).accepted.length, 1)

  const older = replica.merge([remote('m1', v(0, 4), HIGH)], HIGH)
  t.deepEqual(older, { accepted: [], rejected: [] })
  t.is(replica.get('machines', 'm1')?.owner, LOW)

  const equal = replica.merge([remote('m1', v(0, 5), LOW)], HIGH)
  t.deepEqual(equal, { accepted: [], rejected: [] })

  const tie = replica.merge([remote('m1', v(0, 5), HIGH)], HIGH)
  t.is(tie.accepted.length, 1)
  t.is(replica.get('machines', 'm1')?.owner, HIGH)
  t.deepEqual(replica.merge([remote('m1', v(0, 5), LOW)], LOW).accepted, [])

  const newer = replica.merge([tomb('m1', v(1), LOW)], LOW)
  t.deepEqual(newer.accepted, [tomb('m1', v(1), LOW)])
  t.true(replica.get('machines', 'm1')?.deleted)
  t.deepEqual(events.map(e => [e.kind, e.row.owner, e.row.version]), [
    ['upsert', LOW, v(0, 5)], ['upsert', HIGH, v(0, 5)], ['delete', LOW, v(1)]
  ])
  t.is(replica.stats().merged, 3)
})

test('merge of rows in one batch applies them in order, one store write', t => {
  const store = createMemoryStore()
  let puts = 0
  const counting: ReplicaStore = { ...store, put: (rows) => { puts++; return store.put(rows) } }
  const { replica } = setup(t, {}, { store: counting })
  const res = replica.merge([remote('a', v(0, 1), LOW), remote('a', v(0, 3), LOW), remote('a', v(0, 2), LOW), remote('b', v(0), HIGH)], LOW)
  t.deepEqual(res.accepted.map(r => [r.key, r.version]), [['a', v(0, 1)], ['a', v(0, 3)], ['b', v(0)]])
  t.is(puts, 1)
  t.is(replica.get('machines', 'a')?.version, v(0, 3))
  t.deepEqual(store.load().map(r => [r.key, r.version]).sort(), [['a', v(0, 3)], ['b', v(0)]])
})

test('one bad row can\'t stall: invalid rows are rejected with reasons, valid ones in the batch are taken', t => {
  const { replica } = setup(t)
  const ok1 = remote('ok1', v(0), LOW)
  const ok2: Row = signed({ table: 'hosts', key: HIGH, owner: HIGH, version: v(0), deleted: false, data: hostData(HIGH) })
  const bad: Array<[unknown, RegExp]> = [
    ['a string', /not an object/],
    [null, /not an object/],
    [[1, 2], /not an object/],
    [{ ...remote('x', v(0), LOW), table: 'volumes' }, /unknown table/],
    [{ ...remote('x', v(0), LOW), key: 'k'.repeat(257) }, /key/],
    [{ ...remote('x', v(0), LOW), key: 7 }, /key/],
    [{ ...remote('x', v(0), LOW), owner: 'ABC' }, /owner/],
    [{ ...remote('x', v(0), LOW), owner: 'C'.repeat(64) }, /owner/],
    [{ ...remote('x', v(0), LOW), version: 0 }, /version/],
    [{ ...remote('x', v(0), LOW), version: 1.5 }, /version/],
    [{ ...remote('x', v(0), LOW), version: '12' }, /version/],
    [{ ...remote('x', v(0), LOW), version: Number.MAX_SAFE_INTEGER + 1 }, /version/],
    [{ ...remote('x', v(0), LOW), deleted: 'no' }, /deleted/],
    [{ ...remote('x', v(0), LOW), data: { id: 'x' } }, /machines schema/],
    [{ ...remote('x', v(0), LOW), table: 'services' }, /services schema/],
    [{ ...remote('x', v(0), LOW), data: null }, /machines schema/],
    [{ ...tomb('x', v(0), LOW), data: machine('x') }, /tombstone must have data null/]
  ]
  const res = replica.merge([bad[0]?.[0], ok1, ...bad.slice(1).map(b => b[0]), ok2], LOW)
  t.deepEqual(res.accepted, [ok1, ok2])
  t.is(res.rejected.length, bad.length)
  bad.forEach(([row, reason], i) => {
    t.is(res.rejected[i]?.row, row)
    t.regex(res.rejected[i]?.reason ?? '', reason, `row ${i}`)
  })
  t.is(replica.get('machines', 'x'), undefined)
  t.deepEqual(replica.stats(), { rows: 2, tombstones: 0, rejected: bad.length, merged: 2, rejectedByCode: { ERR_INVALID_ROW: bad.length }, skippedOnLoad: 0 })
  t.true(res.rejected.every(r => r.error instanceof InvalidRowError))
})

test('merge rejects rows with fields a row does not have, local-only ones included', t => {
  const { replica } = setup(t)
  const res = replica.merge([{ ...remote('m1', v(0), LOW), receivedAt: 1 }, { ...remote('m2', v(0), LOW), ownerDead: true }, { ...remote('m3', v(0), LOW), extra: 'x' }, remote('m4', v(0), LOW)], LOW)
  t.deepEqual(res.accepted, [remote('m4', v(0), LOW)])
  t.deepEqual(res.rejected.map(r => r.reason), ['unknown row field \'receivedAt\'', 'unknown row field \'ownerDead\'', 'unknown row field \'extra\''])
  const got = replica.get('machines', 'm4')
  t.is(got?.ownerDead, false)
  t.is(got?.receivedAt, T0)
})

test('a foreign row claiming this host as owner is rejected when newer; an echo of our own row is a no-op', t => {
  const { replica } = setup(t)
  const mine = replica.write('machines', 'm1', machine('m1'))
  t.deepEqual(replica.merge([plain(mine)], LOW), { accepted: [], rejected: [] })
  const forged = { ...plain(mine), version: mine.version + 10, data: { ...machine('m1'), state: 'stolen' } }
  const res = replica.merge([forged, remote('m2', v(0), LOW)], LOW)
  t.is(res.accepted.length, 1)
  t.regex(res.rejected[0]?.reason ?? '', /claims this host as owner/)
  t.is(replica.get('machines', 'm1')?.data?.state, 'started')
  t.true(replica.write('machines', 'm1', machine('m1')).version > forged.version)
  const unknownKey = { ...remote('m9', v(0), LOW), owner: LOCAL }
  t.is(replica.merge([unknownKey], LOW).rejected.length, 1)
})

test('merged versions advance the local clock, up to the drift bound', t => {
  const { replica } = setup(t)
  replica.merge([remote('ahead', v(30_000, 7), LOW)], LOW)
  t.true(replica.write('machines', 'mine', machine('mine')).version > v(30_000, 7))
  const far = v(120_000)
  t.is(replica.merge([remote('far', far, LOW)], LOW).accepted.length, 1)
  t.true(replica.write('machines', 'mine2', machine('mine2')).version < far)
})

test('a store that fails leaves the replica as it was and the error propagates', t => {
  const failing: ReplicaStore = { ...createMemoryStore(), put: () => { throw new Error('disk full') } }
  const { replica } = setup(t, {}, { store: failing })
  const events = collect(replica)
  const before = replica.digest()
  t.throws(() => replica.merge([remote('m1', v(0), LOW)], LOW), { message: 'disk full' })
  t.throws(() => replica.write('machines', 'm2', machine('m2')), { message: 'disk full' })
  t.is(replica.get('machines', 'm1'), undefined)
  t.is(replica.get('machines', 'm2'), undefined)
  t.deepEqual(replica.digest(), before)
  t.deepEqual(events, [])
  t.is(replica.stats().merged, 0)
})

// --- subscriptions ---

test('subscribers get ordered events, seq increasing by one, filtered by table and where', t => {
  const { replica } = setup(t)
  const all = collect(replica)
  const machines = collect(replica, { table: 'machines' })
  const fromLow = collect(replica, { where: r => r.owner === LOW })
  replica.write('machines', 'm1', machine('m1'))
  replica.write('services', 'web', service('web'))
  replica.merge([remote('m2', v(5), LOW), signed({ table: 'services', key: 'api', owner: LOW, version: v(5), deleted: false, data: service('api') })], LOW)
  replica.delete('machines', 'm1')
  t.deepEqual(all.map(e => e.seq), [1, 2, 3, 4, 5])
  t.deepEqual(all.map(e => [e.kind, e.row.table, e.row.key]), [
    ['upsert', 'machines', 'm1'], ['upsert', 'services', 'web'], ['upsert', 'machines', 'm2'], ['upsert', 'services', 'api'], ['delete', 'machines', 'm1']
  ])
  t.deepEqual(machines.map(e => e.seq), [1, 3, 5])
  t.deepEqual(fromLow.map(e => e.row.key), ['m2', 'api'])
  t.is(all[2]?.row, replica.get('machines', 'm2'))
})

test('a throwing listener (or filter) does not stop other listeners or the merge; unsubscribe works', t => {
  const { replica } = setup(t)
  replica.subscribe({}, () => { throw new Error('listener bug') })
  replica.subscribe({ where: () => { throw new Error('filter bug') } }, () => { t.fail('filtered out by a throwing filter') })
  const seen = collect(replica)
  const later: number[] = []
  const off = replica.subscribe({}, e => { later.push(e.seq) })
  const res = replica.merge([remote('a', v(0), LOW), remote('b', v(0), LOW)], LOW)
  t.is(res.accepted.length, 2)
  t.deepEqual(seen.map(e => e.row.key), ['a', 'b'])
  off()
  off()
  replica.write('machines', 'c', machine('c'))
  t.deepEqual(later, [1, 2])
  t.deepEqual(seen.map(e => e.seq), [1, 2, 3])
})

test('a listener unsubscribed by another during delivery gets no more events', t => {
  const { replica } = setup(t)
  const got: string[] = []
  let offSecond = (): void => {}
  replica.subscribe({}, e => {
    got.push(`first:${e.row.key}`)
    offSecond()
  })
  offSecond = replica.subscribe({}, e => { got.push(`second:${e.row.key}`) })
  replica.merge([remote('a', v(0), LOW), remote('b', v(0), LOW)], LOW)
  t.deepEqual(got, ['first:a', 'first:b'])
})

test('a listener that writes while an event is delivered does not reorder events', t => {
  const { replica } = setup(t)
  replica.subscribe({ table: 'machines' }, e => {
    if (e.kind === 'upsert' && e.row.owner === LOW) replica.write('services', `for-${e.row.key}`, service('web'))
  })
  const seen = collect(replica)
  replica.merge([remote('a', v(0), LOW), remote('b', v(0), LOW)], LOW)
  t.deepEqual(seen.map(e => [e.seq, e.row.key]), [[1, 'a'], [2, 'b'], [3, 'for-a'], [4, 'for-b']])
})

// --- owners declared dead ---

test('markOwnerDead / markOwnerAlive flag the owner\'s rows, emit one event per live row, and are idempotent', t => {
  const { replica, store } = setup(t)
  replica.merge([remote('a', v(0), LOW), remote('b', v(0), LOW), tomb('c', v(0), LOW), remote('d', v(0), HIGH)], LOW)
  const events = collect(replica)
  t.is(replica.markOwnerDead(LOW), 3)
  t.is(replica.markOwnerDead(LOW), 0)
  t.deepEqual(events.map(e => [e.kind, e.row.key, e.row.ownerDead]), [['owner-dead', 'a', true], ['owner-dead', 'b', true]])
  t.true(replica.get('machines', 'c')?.ownerDead)
  t.false(replica.get('machines', 'd')?.ownerDead)
  t.is(replica.count(), 3)
  t.true(store.load().filter(r => r.owner === LOW).every(r => r.ownerDead))

  replica.merge([remote('e', v(1), LOW), remote('a', v(1), LOW)], LOW)
  t.true(replica.get('machines', 'e')?.ownerDead)
  t.true(replica.get('machines', 'a')?.ownerDead)

  events.length = 0
  t.is(replica.markOwnerAlive(LOW), 4)
  t.is(replica.markOwnerAlive(LOW), 0)
  t.deepEqual(events.map(e => [e.kind, e.row.key]).sort(), [['owner-alive', 'a'], ['owner-alive', 'b'], ['owner-alive', 'e']])
  t.true(replica.list('machines', { includeDeleted: true }).every(r => !r.ownerDead))
  t.is(replica.markOwnerDead('f'.repeat(64)), 0)
})

test('ownership: a live peer\'s row cannot be written or deleted; a dead owner\'s row or a tombstone can be taken over', t => {
  const { replica } = setup(t)
  const peerVersion = v(30_000)
  replica.merge([remote('m1', peerVersion, LOW), tomb('m2', v(0), LOW)], LOW)
  const err = t.throws(() => replica.write('machines', 'm1', machine('m1')), { instanceOf: InvalidArgumentError })
  t.regex(err?.message ?? '', /owned by host/)
  t.throws(() => replica.delete('machines', 'm1'), { instanceOf: InvalidArgumentError })
  t.is(replica.get('machines', 'm1')?.owner, LOW)

  const m2 = replica.write('machines', 'm2', machine('m2'))
  t.is(m2.owner, LOCAL)
  t.true(m2.version > v(0))

  replica.markOwnerDead(LOW)
  const taken = replica.write('machines', 'm1', machine('m1'))
  t.is(taken.owner, LOCAL)
  t.false(taken.ownerDead)
  t.true(taken.version > peerVersion)
  replica.markOwnerAlive(LOW)
  t.notThrows(() => replica.write('machines', 'm1', { ...machine('m1'), state: 'stopped' }))
})

// --- tombstones ---

test('tombstones expire after the TTL on the timer, from memory and store, and the digest follows', t => {
  const { replica, clock, store } = setup(t, { tombstoneTtlMs: 10_000 })
  const empty = replica.digest()
  replica.write('machines', 'm1', machine('m1'))
  replica.delete('machines', 'm1')
  t.notDeepEqual(replica.digest(), empty)
  clock.advance(9_999)
  t.true(replica.get('machines', 'm1')?.deleted)
  clock.advance(2_501)
  t.is(replica.get('machines', 'm1'), undefined)
  t.deepEqual(store.load(), [])
  t.deepEqual(replica.digest(), empty)
  t.is(replica.stats().tombstones, 0)
  t.is(clock.pending(), 1)
})

test('expireTombstones(now) drops only tombstones received longer than the TTL ago', t => {
  const { replica, clock } = setup(t, { tombstoneTtlMs: 1_000, tombstoneSweepMs: 1e9 })
  replica.merge([tomb('old', v(0), LOW), remote('live', v(0), LOW)], LOW)
  clock.set(T0 + 600)
  replica.merge([tomb('young', v(600), LOW)], LOW)
  t.is(replica.expireTombstones(T0 + 1_000), 0)
  t.is(replica.expireTombstones(T0 + 1_001), 1)
  t.deepEqual(replica.list('machines', { includeDeleted: true }).map(r => r.key).sort(), ['live', 'young'])
  t.is(replica.expireTombstones(T0 + 2_000), 1)
  t.is(replica.stats().tombstones, 0)
})

test('a tombstone older than the TTL is ignored for an unknown key but still deletes a row we hold', t => {
  const { replica } = setup(t, { tombstoneTtlMs: 1_000 })
  replica.merge([remote('held', v(-5_000), LOW)], LOW)
  const res = replica.merge([tomb('unknown', v(-2_000), LOW), tomb('held', v(-2_000), LOW)], LOW)
  t.deepEqual(res.accepted.map(r => r.key), ['held'])
  t.deepEqual(res.rejected, [])
  t.is(replica.get('machines', 'unknown'), undefined)
  t.true(replica.get('machines', 'held')?.deleted)
})

// --- anti-entropy ---

const codec = createCodec()
const wire = <T>(value: T): T => codec.decode(codec.encode(value)) as T

/** One round: a compares digests with b, fetches b's entries of differing buckets, pushes and pulls. */
function sync (a: Replica, b: Replica): number {
  const buckets = differingBuckets(wire(a.digest()), wire(b.digest()))
  if (buckets.length === 0) return 0
  const theirs = wire(b.bucketEntries(buckets))
  b.merge(wire(a.rowsNewerThan(theirs, buckets)), a.hostId)
  a.merge(wire(b.getRows(wire(a.wanted(theirs)))), b.hostId)
  return buckets.length
}

test('two replicas converge through the digest exchange', t => {
  const clock = fakeClock()
  const a = setup(t, { hostId: LOW }, { clock }).replica
  const b = setup(t, { hostId: HIGH }, { clock }).replica
  for (let i = 0; i < 30; i++) a.write('machines', `a${i}`, machine(`a${i}`, LOW))
  for (let i = 0; i < 30; i++) b.write('machines', `b${i}`, machine(`b${i}`, HIGH))
  a.write('hosts', LOW, hostData(LOW))
  b.write('hosts', HIGH, hostData(HIGH))
  a.write('services', 'shared', service('from-a'))
  clock.advance(10)
  b.write('services', 'shared', service('from-b'))
  t.true(sync(a, b) > 0)

  a.delete('machines', 'a5')
  b.write('machines', 'b30', machine('b30', HIGH))
  a.write('machines', 'a0', { ...machine('a0', LOW), state: 'stopped' })
  t.notDeepEqual(a.digest(), b.digest())
  t.true(sync(b, a) > 0)

  t.deepEqual(a.digest(), b.digest())
  for (const table of ['hosts', 'machines', 'services'] as const) {
    t.deepEqual(sorted(a.list(table, { includeDeleted: true })), sorted(b.list(table, { includeDeleted: true })), table)
  }
  t.is(a.count('machines'), 60)
  t.true(b.get('machines', 'a5')?.deleted)
  t.is(b.get('machines', 'a0')?.data?.state, 'stopped')
  t.is(a.get('services', 'shared')?.owner, HIGH)
  t.is(sync(a, b), 0)
  t.deepEqual(a.wanted(b.bucketEntries([...Array(a.buckets).keys()])), [])
})

test('bucketEntries, rowsNewerThan, wanted and getRows on one replica', t => {
  const { replica } = setup(t, { buckets: 1 })
  replica.merge([remote('same', v(0), LOW), remote('ours-newer', v(2), LOW), remote('theirs-newer', v(0), LOW), tomb('gone', v(1), LOW)], LOW)
  const entries = replica.bucketEntries([0])
  t.deepEqual(entries.map(e => e[1]).sort(), ['gone', 'ours-newer', 'same', 'theirs-newer'])
  const theirs: Array<[TableName, string, number, string]> = [
    ['machines', 'same', v(0), LOW], ['machines', 'ours-newer', v(1), LOW], ['machines', 'theirs-newer', v(3), LOW],
    ['machines', 'only-theirs', v(0), HIGH], ['machines', 'forged-ours', v(9), LOCAL], ['volumes' as TableName, 'x', 1, LOW]
  ]
  t.deepEqual(replica.rowsNewerThan(theirs, [0]).map(r => r.key).sort(), ['gone', 'ours-newer'])
  t.deepEqual(replica.rowsNewerThan(theirs, []), [])
  t.deepEqual(replica.wanted(theirs).map(k => k[1]).sort(), ['only-theirs', 'theirs-newer'])
  const rows = replica.getRows([['machines', 'gone'], ['machines', 'nope'], ['services', 'same']])
  t.deepEqual(rows, [tomb('gone', v(1), LOW)])
  t.false('receivedAt' in (rows[0] ?? {}))
})

// --- persistence ---

test('a restarted replica over the same sqlite file serves the same rows and digest at once', t => {
  const dir = mkdtempSync(join(tmpdir(), 'roost-replica-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'replica.db')
  const clock = fakeClock()

  const store1 = createSqliteStore({ path })
  const first = createReplica({ hostId: LOCAL }, { logger: silentLogger(), clock, store: store1, signer: hostKeyOf(LOCAL) })
  first.start()
  first.write('machines', 'm1', machine('m1'))
  first.write('services', 'web', service('web'))
  first.merge([remote('m2', v(40_000), LOW), signed({ table: 'hosts', key: HIGH, owner: HIGH, version: v(1), deleted: false, data: hostData(HIGH) })], LOW)
  first.delete('services', 'web')
  const last = first.write('machines', 'm1', { ...machine('m1'), configVersion: 2 })
  const before = { digest: first.digest(), rows: TABLE_NAMES.flatMap(tb => first.list(tb, { includeDeleted: true })) }
  first.stop()
  store1.close()

  clock.set(T0 - 300_000)
  const store2 = createSqliteStore({ path })
  t.teardown(() => { store2.close() })
  const second = createReplica({ hostId: LOCAL }, { logger: silentLogger(), clock, store: store2, signer: hostKeyOf(LOCAL) })
  second.start()
  t.teardown(() => { second.stop() })
  t.deepEqual(second.digest(), before.digest)
  const after = TABLE_NAMES.flatMap(tb => second.list(tb, { includeDeleted: true }))
  t.deepEqual(sorted(after), sorted(before.rows))
  t.deepEqual(after.map(r => r.receivedAt).sort(), before.rows.map(r => r.receivedAt).sort())
  t.is(second.stats().tombstones, 1)
  t.true(second.write('machines', 'm3', machine('m3')).version > last.version, 'a new key written after a restart with the clock set back')
  t.true(second.write('machines', 'm1', machine('m1')).version > last.version)
})

test('start skips invalid rows found in the store and resets owner-dead flags', t => {
  const store = createMemoryStore()
  const good: StoredRow = { ...remote('good', v(0), LOW), receivedAt: T0, ownerDead: true }
  store.put([good, { ...good, key: 'bad', data: { id: 'bad' } }, { ...good, key: 'worse', owner: 'nope' }])
  const { replica } = setup(t, {}, { store })
  t.deepEqual(replica.list('machines').map(r => [r.key, r.ownerDead]), [['good', false]])
})


test('a flood of bad rows from one peer is counted in full but logged in a bounded number of lines', t => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const clock = fakeClock()
  const replica = createReplica({ hostId: LOCAL }, { logger, clock, store: createMemoryStore(), signer: hostKeyOf(LOCAL) })
  replica.start()
  t.teardown(() => { replica.stop() })
  const bad = Array.from({ length: 500 }, (_, i) => ({ ...plain(remote(`m${i}`, v(i), HIGH)), extra: i }))
  t.is(replica.merge(bad, HIGH).rejected.length, 500)
  const logged = (): Array<Record<string, unknown>> => lines.filter(l => l.msg === 'rejected a replicated row')
  t.is(logged().length, 5)
  t.is(replica.stats().rejectedByCode.ERR_INVALID_ROW, 500)
  replica.merge([{ ...plain(remote('x', v(1), LOW)), extra: 1 }], LOW)
  t.is(logged().length, 6, 'another peer has its own allowance')
  clock.advance(10_000)
  replica.merge([{ ...plain(remote('y', v(2), HIGH)), extra: 1 }], HIGH)
  t.like(logged().at(-1), { from: HIGH, suppressed: 495 })
})
