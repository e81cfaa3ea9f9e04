import test, { type ExecutionContext } from 'ava'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError, InvalidRowError, RowNotStorableError, RowSignatureError } from '../../src/errors/errors.js'
import { hlcEncode } from '../../src/gossip/hlc.js'
import { createReplica, type Replica } from '../../src/gossip/replica.js'
import { createMemoryStore, type ReplicaStore } from '../../src/gossip/replica-store.js'
import type { Row, StoredRow } from '../../src/gossip/rows.js'
import { createSqliteStore } from '../../src/gossip/sqlite-store.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/runtime/clock.js'
import { hostKey, hostKeyOf, signed } from '../helpers/host-keys.js'
import { serviceRow } from '../helpers/service-row.js'

// The replica must refuse, alone, every row that is not exactly what its owner signed, whatever
// the path it came by (merge of a broadcast or an anti-entropy batch, load from the store).

const LOCAL = hostKey('trust-local').hostId
const A = hostKey('trust-a').hostId
const B = hostKey('trust-b').hostId
const v = (n: number): number => hlcEncode(Date.now(), n)

const machine = (key: string, host: string): Record<string, unknown> => ({ id: key, app: 'web', host, state: 'started', configVersion: 1, health: 'passing' })
const hostData = (id: string): Record<string, unknown> => ({ id, name: 'h', region: 'fra', addresses: ['10.0.0.1'], cpusFree: 2, memoryFreeMb: 512, version: '0.1.0' })
const good = (key: string, owner = A): Row => signed({ table: 'machines', key, owner, version: v(1), deleted: false, data: machine(key, owner) })

/** Nested `depth` levels deep, as a decoder that allowed it would hand it over. */
function deep (depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true }
  for (let i = 0; i < depth; i++) value = { next: value }
  return value
}

function cyclic (): Record<string, unknown> {
  const value: Record<string, unknown> = { name: 'loop' }
  value.self = value
  return value
}

/** Rows that must each be rejected, with the error class and a reason pattern. */
function badRows (): Array<[string, unknown, typeof InvalidRowError | typeof RowSignatureError, RegExp]> {
  const byA = good('forged', A)
  return [
    ['signed by A, claims owner B', { ...byA, owner: B, data: machine('forged', B) }, RowSignatureError, /signature/],
    ['signed by A, owner B, A\'s data', { ...byA, owner: B }, InvalidRowError, /about host/],
    ['tampered data', { ...good('tampered'), data: { ...machine('tampered', A), state: 'stopped' } }, RowSignatureError, /signature/],
    ['tampered version', { ...good('bumped'), version: v(9) }, RowSignatureError, /signature/],
    ['unsigned', { ...good('unsigned'), sig: undefined }, InvalidRowError, /sig must be 64 bytes/],
    ['extra data property', signed({ table: 'machines', key: 'extra', owner: A, version: v(1), deleted: false, data: { ...machine('extra', A), note: 'x' } }), InvalidRowError, /machines schema/],
    ['3,000 levels deep', { ...good('deep'), data: { ...machine('deep', A), state: deep(3_000) } }, InvalidRowError, /machines schema/],
    ['3,000 levels deep, extra property', { ...good('deep2'), data: { ...machine('deep2', A), extra: deep(3_000) } }, InvalidRowError, /machines schema/],
    ['cyclic data', { ...good('cyclic'), data: { ...machine('cyclic', A), state: cyclic() } }, InvalidRowError, /machines schema/],
    ['cyclic extra property', { ...good('cyclic2'), data: { ...machine('cyclic2', A), loop: cyclic() } }, InvalidRowError, /machines schema/],
    ['a hosts row about B written by A', signed({ table: 'hosts', key: B, owner: A, version: v(1), deleted: false, data: hostData(B) }), InvalidRowError, /about host/],
    ['B\'s hosts row tombstoned by A', signed({ table: 'hosts', key: B, owner: A, version: v(1), deleted: true, data: null }), InvalidRowError, /about host/],
    ['a throwing getter', Object.defineProperty({ ...good('getter') }, 'data', { enumerable: true, get () { throw new Error('boom') } }), InvalidRowError, /cannot be checked/]
  ]
}

function replica (t: ExecutionContext, store: ReplicaStore = createMemoryStore()): Replica {
  const r = createReplica({ hostId: LOCAL }, { logger: silentLogger(), clock: systemClock, store, signer: hostKeyOf(LOCAL) })
  r.start()
  t.teardown(() => { r.stop() })
  return r
}

function tempDb (t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roost-trust-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return join(dir, 'replica.db')
}

test('merge: each bad row is rejected alone with a typed error and counted; the good rows of the batch apply', t => {
  const path = tempDb(t)
  const store = createSqliteStore({ path })
  t.teardown(() => { store.close() })
  const r = replica(t, store)
  const bad = badRows()
  const ok = [good('ok1'), signed({ table: 'hosts', key: B, owner: B, version: v(1), deleted: false, data: hostData(B) }), good('ok2', B)]
  const res = r.merge([ok[0], ...bad.map(b => b[1]), ok[1], ok[2]], A)
  t.deepEqual(res.accepted.map(x => `${x.table}/${x.key}`), ['machines/ok1', `hosts/${B}`, 'machines/ok2'])
  t.is(res.rejected.length, bad.length)
  bad.forEach(([what, row, cls, reason], i) => {
    const got = res.rejected[i]
    t.is(got?.row, row, what)
    t.true(got?.error instanceof cls, `${what}: ${got?.error.code ?? 'none'}`)
    t.regex(got?.reason ?? '', reason, what)
  })
  const signatures = bad.filter(b => b[2] === RowSignatureError).length
  t.deepEqual(r.stats().rejectedByCode, { ERR_ROW_SIGNATURE: signatures, ERR_INVALID_ROW: bad.length - signatures })
  t.deepEqual(r.list('machines').map(x => x.key).sort(), ['ok1', 'ok2'])
  t.deepEqual(store.load().map(x => x.key).sort(), [B, 'ok1', 'ok2'].sort())
})

test('sync: rows pulled by anti-entropy are verified like broadcast ones', t => {
  const source = createReplica({ hostId: A }, { logger: silentLogger(), clock: systemClock, store: createMemoryStore(), signer: hostKeyOf(A) })
  source.start()
  t.teardown(() => { source.stop() })
  source.write('machines', 'm1', machine('m1', A))
  source.write('services', 'web', serviceRow('web'))
  const r = replica(t)
  const pulled = source.getRows(r.wanted(source.bucketEntries([...Array(source.buckets).keys()])))
  t.is(pulled.length, 2)
  // A peer that relays A's rows but alters one, or claims one for B.
  const m1 = pulled.find(x => x.table === 'machines') as Row
  const web = pulled.find(x => x.table === 'services') as Row
  const res = r.merge([{ ...m1, data: { ...m1.data, state: 'stopped' } }, { ...web, owner: B }], B)
  t.deepEqual(res.rejected.map(x => x.error.code), ['ERR_ROW_SIGNATURE', 'ERR_ROW_SIGNATURE'])
  t.is(r.count(), 0)
  t.is(r.merge(pulled, B).accepted.length, 2)
  t.deepEqual(r.digest(), source.digest())
})

test('a row the store refuses is rejected alone with RowNotStorableError; the rest of the batch applies and only it is announced', t => {
  const memory = createMemoryStore()
  const refusing: ReplicaStore = {
    ...memory,
    put: (rows) => {
      const refused = rows.filter(x => x.key === 'unstorable').map(row => ({ row, error: new RangeError('Maximum call stack size exceeded') }))
      memory.put(rows.filter(x => x.key !== 'unstorable'))
      return refused
    }
  }
  const r = replica(t, refusing)
  const events: string[] = []
  r.subscribe({}, e => { events.push(e.row.key) })
  const res = r.merge([good('a'), good('unstorable'), good('b')], A)
  t.deepEqual(res.accepted.map(x => x.key), ['a', 'b'])
  t.is(res.rejected.length, 1)
  t.true(res.rejected[0]?.error instanceof RowNotStorableError)
  t.deepEqual(events, ['a', 'b'])
  t.is(r.get('machines', 'unstorable'), undefined)
  t.deepEqual(r.stats().rejectedByCode, { ERR_ROW_NOT_STORABLE: 1 })
  t.throws(() => r.write('machines', 'unstorable', machine('unstorable', LOCAL)), { instanceOf: RowNotStorableError })
  t.is(r.get('machines', 'unstorable'), undefined)
})

test('load: rows in the store that are not what their owner signed are skipped and counted; the others load', t => {
  const path = tempDb(t)
  const first = createSqliteStore({ path })
  const at = (row: Row): StoredRow => ({ ...row, receivedAt: Date.now(), ownerDead: false })
  const byA = good('claimed', A)
  first.put([
    at(good('fine', A)),
    at({ ...byA, owner: B, data: machine('claimed', B) }),
    at({ ...good('edited', A), data: { ...machine('edited', A), health: 'failing' } }),
    at({ ...good('extra', A), data: { ...machine('extra', A), note: 'x' } }),
    at(signed({ table: 'hosts', key: B, owner: B, version: v(1), deleted: false, data: hostData(B) }))
  ])
  first.close()
  const store = createSqliteStore({ path })
  t.teardown(() => { store.close() })
  const r = replica(t, store)
  t.deepEqual(r.list('machines').map(x => x.key), ['fine'])
  t.truthy(r.get('hosts', B))
  t.is(r.stats().skippedOnLoad, 3)
})

test('load: a store from before signatures keeps this host\'s rows (signed now, written back) and drops other hosts\'', t => {
  const path = tempDb(t)
  const db = new Database(path)
  db.exec(`CREATE TABLE rows (tbl TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    data BLOB, received_at INTEGER NOT NULL, owner_dead INTEGER NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID`)
  db.pragma('user_version = 1')
  db.close()
  // Rows as the previous version wrote them (no signature column), through the store's own encoding.
  const legacy = createSqliteStore({ path })
  const mine = { table: 'services' as const, key: 'web', owner: LOCAL, version: v(1), deleted: false, data: serviceRow('web'), receivedAt: 5, ownerDead: false }
  const theirs = { ...mine, key: 'api', owner: A, data: serviceRow('api') }
  legacy.put([{ ...mine, sig: new Uint8Array(0) }, { ...theirs, sig: new Uint8Array(0) }])
  legacy.close()
  const raw = new Database(path)
  raw.exec('UPDATE rows SET sig = NULL')
  raw.close()

  const store = createSqliteStore({ path })
  t.teardown(() => { store.close() })
  const r = replica(t, store)
  t.deepEqual(r.list('services').map(x => x.key), ['web'])
  t.is(r.stats().skippedOnLoad, 1)
  const web = r.get('services', 'web') as StoredRow
  t.is(web.version, mine.version)
  t.is(web.sig.byteLength, 64)
  t.deepEqual(store.load().find(x => x.key === 'web')?.sig, web.sig, 'the new signature is stored')
})

test('write: a host cannot write rows about another host', t => {
  const r = replica(t)
  t.throws(() => r.write('hosts', B, hostData(B)), { instanceOf: InvalidArgumentError })
  t.throws(() => r.write('machines', 'm1', machine('m1', B)), { instanceOf: InvalidArgumentError })
  t.throws(() => r.write('routers', B, { backhaul: null, loads: {}, updatedAt: 0 }), { instanceOf: InvalidArgumentError })
  t.throws(() => r.delete('hosts', B), { instanceOf: InvalidArgumentError })
  t.is(r.write('hosts', LOCAL, hostData(LOCAL)).owner, LOCAL)
  t.is(r.count(), 1)
})
