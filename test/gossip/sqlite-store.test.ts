import test, { type ExecutionContext } from 'ava'
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, NotStartedError } from '../../src/errors/errors.js'
import { createMemoryStore, type ReplicaStore } from '../../src/gossip/replica-store.js'
import type { StoredRow, TableName } from '../../src/gossip/rows.js'
import { SQLITE_STORE_SCHEMA_VERSION, createSqliteStore } from '../../src/gossip/sqlite-store.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
/** The store keeps a signature as given; the replica verifies it. */
const SIG = new Uint8Array(64).fill(7)

function tempDir (t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roost-store-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

function sqliteAt (t: ExecutionContext, path: string): ReplicaStore {
  const store = createSqliteStore({ path })
  t.teardown(() => { store.close() })
  return store
}

const machine = (key: string, version: number, extra: Partial<StoredRow> = {}): StoredRow => ({
  table: 'machines',
  key,
  owner: A,
  version,
  deleted: false,
  data: { id: key, app: 'web', host: A, state: 'started', configVersion: 3, health: 'passing', nested: { list: [1, 'two', null], flag: true } },
  sig: SIG,
  receivedAt: 1_750_000_000_123,
  ownerDead: false,
  ...extra
})

const tombstone = (key: string, version: number): StoredRow => ({
  table: 'services', key, owner: B, version, deleted: true, data: null, sig: SIG, receivedAt: 42, ownerDead: true
})

const byKey = (rows: StoredRow[]): StoredRow[] => [...rows].sort((x, y) => `${x.table}/${x.key}`.localeCompare(`${y.table}/${y.key}`))

// --- the compliance suite: every ReplicaStore behaves the same ---

const implementations: Array<[string, (t: ExecutionContext) => ReplicaStore]> = [
  ['memory', () => createMemoryStore()],
  ['sqlite', (t) => sqliteAt(t, join(tempDir(t), 'replica.db'))]
]

for (const [name, make] of implementations) {
  test(`${name}: a new store is empty`, t => {
    t.deepEqual(make(t).load(), [])
  })

  test(`${name}: rows round-trip with every field, tombstones included`, t => {
    const store = make(t)
    const rows = [machine('m1', Number.MAX_SAFE_INTEGER), tombstone('web', 7), machine('m2', 3, { ownerDead: true, receivedAt: 5 })]
    store.put(rows)
    t.deepEqual(byKey(store.load()), byKey(rows))
  })

  test(`${name}: put replaces by (table, key) and keeps other tables apart`, t => {
    const store = make(t)
    store.put([machine('x', 1), { ...machine('x', 1), table: 'hosts' as TableName, data: { other: true } }])
    store.put([machine('x', 2, { owner: B }), machine('y', 1)])
    const got = byKey(store.load())
    t.is(got.length, 3)
    t.deepEqual(got.map(r => [r.table, r.key, r.version, r.owner]), [['hosts', 'x', 1, A], ['machines', 'x', 2, B], ['machines', 'y', 1, A]])
  })

  test(`${name}: a batch with the same key twice keeps the last`, t => {
    const store = make(t)
    store.put([machine('x', 1), machine('x', 9)])
    t.deepEqual(store.load().map(r => r.version), [9])
  })

  test(`${name}: remove deletes the given keys and ignores absent ones`, t => {
    const store = make(t)
    store.put([machine('a', 1), machine('b', 1), tombstone('c', 1)])
    store.remove([['machines', 'a'], ['services', 'c'], ['machines', 'nope'], ['hosts', 'b']])
    t.deepEqual(store.load().map(r => r.key), ['b'])
    store.remove([])
    store.put([])
    t.is(store.load().length, 1)
  })

  test(`${name}: rows handed to put and returned by load are not shared with the store`, t => {
    const store = make(t)
    const row = machine('m', 1)
    store.put([row])
    row.version = 99
    const loaded = store.load()
    t.is(loaded[0]?.version, 1)
    if (loaded[0] !== undefined) loaded[0].version = 77
    t.is(store.load()[0]?.version, 1)
  })

  test(`${name}: close is idempotent and later calls throw NotStartedError`, t => {
    const store = make(t)
    store.close()
    store.close()
    t.throws(() => store.load(), { instanceOf: NotStartedError })
    t.throws(() => { store.put([machine('m', 1)]) }, { instanceOf: NotStartedError })
    t.throws(() => { store.remove([['machines', 'm']]) }, { instanceOf: NotStartedError })
  })
}

// --- sqlite only ---

test('sqlite: rows survive close and reopen', t => {
  const path = join(tempDir(t), 'replica.db')
  const first = createSqliteStore({ path })
  first.put([machine('m1', 10), tombstone('web', 11)])
  first.remove([['machines', 'm1']])
  first.put([machine('m2', 12)])
  first.close()
  const again = sqliteAt(t, path)
  t.deepEqual(byKey(again.load()), byKey([tombstone('web', 11), machine('m2', 12)]))
})

test('sqlite: a batch is one transaction (a row that cannot be written writes none of it)', t => {
  const path = join(tempDir(t), 'replica.db')
  const store = sqliteAt(t, path)
  store.put([machine('keep', 1)])
  const bad = machine('bad', 2, { owner: { not: 'bindable' } as unknown as string })
  t.throws(() => { store.put([machine('new', 1), bad]) })
  t.deepEqual(store.load().map(r => r.key), ['keep'])
})

test('sqlite: WAL mode, schema version and table layout on disk', t => {
  const path = join(tempDir(t), 'replica.db')
  sqliteAt(t, path).put([machine('m1', 5)])
  const db = new Database(path, { readonly: true })
  t.teardown(() => { db.close() })
  t.is(db.pragma('journal_mode', { simple: true }), 'wal')
  t.is(db.pragma('user_version', { simple: true }), SQLITE_STORE_SCHEMA_VERSION)
  const cols = (db.prepare('SELECT name FROM pragma_table_info(\'rows\')').all() as Array<{ name: string }>).map(c => c.name)
  t.deepEqual(cols, ['tbl', 'key', 'owner', 'version', 'deleted', 'data', 'received_at', 'owner_dead', 'sig'])
  const raw = db.prepare('SELECT tbl, key, deleted, typeof(data) AS kind FROM rows').get()
  t.deepEqual(raw, { tbl: 'machines', key: 'm1', deleted: 0, kind: 'blob' })
})

test('sqlite: a file from a future schema version is refused with ConfigError and left as it was', t => {
  const path = join(tempDir(t), 'replica.db')
  const db = new Database(path)
  db.pragma(`user_version = ${SQLITE_STORE_SCHEMA_VERSION + 1}`)
  db.close()
  const err = t.throws(() => createSqliteStore({ path }), { instanceOf: ConfigError })
  t.regex(err?.message ?? '', new RegExp(`schema version ${SQLITE_STORE_SCHEMA_VERSION + 1}`))
  t.is(err?.code, 'ERR_CONFIG')
  const check = new Database(path, { readonly: true })
  t.teardown(() => { check.close() })
  t.is(check.pragma('user_version', { simple: true }), SQLITE_STORE_SCHEMA_VERSION + 1)
  t.not(check.pragma('journal_mode', { simple: true }), 'wal')
})

test('sqlite: a file that is not a database is refused with ConfigError', t => {
  const path = join(tempDir(t), 'replica.db')
  writeFileSync(path, 'this is not sqlite, it is a text file long enough to have a header'.repeat(20))
  t.throws(() => createSqliteStore({ path }), { instanceOf: ConfigError })
})

test('sqlite: a row whose data blob is corrupt is skipped by load, the others are returned', t => {
  const path = join(tempDir(t), 'replica.db')
  const store = createSqliteStore({ path })
  store.put([machine('good', 1), machine('bad', 1)])
  store.close()
  const db = new Database(path)
  db.prepare('UPDATE rows SET data = ? WHERE key = ?').run(Buffer.from([0x92, 0x01]), 'bad')
  db.close()
  t.deepEqual(sqliteAt(t, path).load().map(r => r.key), ['good'])
})

test('sqlite: a row whose data cannot be encoded is refused alone; the rest of the batch is written', t => {
  const store = sqliteAt(t, join(tempDir(t), 'replica.db'))
  const cyclic: Record<string, unknown> = { id: 'loop' }
  cyclic.self = cyclic
  const bad = machine('bad', 1, { data: cyclic })
  const refused = store.put([machine('a', 1), bad, machine('b', 1)])
  t.is(refused.length, 1)
  t.is(refused[0]?.row, bad)
  t.true(refused[0]?.error instanceof Error)
  t.deepEqual(store.load().map(r => r.key).sort(), ['a', 'b'])
})

test('sqlite: a file of schema version 1 (rows without signatures) is migrated; its rows load with an empty signature', t => {
  const path = join(tempDir(t), 'replica.db')
  const db = new Database(path)
  db.exec(`CREATE TABLE rows (tbl TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    data BLOB, received_at INTEGER NOT NULL, owner_dead INTEGER NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID`)
  db.prepare('INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run('services', 'web', B, 7, 1, null, 42, 0)
  db.pragma('user_version = 1')
  db.close()
  const store = sqliteAt(t, path)
  t.deepEqual(store.load(), [{ table: 'services', key: 'web', owner: B, version: 7, deleted: true, data: null, sig: new Uint8Array(0), receivedAt: 42, ownerDead: false }])
  store.put([machine('m1', 1)])
  t.deepEqual(store.load().find(r => r.key === 'm1')?.sig, SIG)
  const check = new Database(path, { readonly: true })
  t.teardown(() => { check.close() })
  t.is(check.pragma('user_version', { simple: true }), SQLITE_STORE_SCHEMA_VERSION)
})
