import Database from 'better-sqlite3'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

/** A machine's durable record, as the machines actors keep it (opaque JSON to the store). */
export interface StoredMachine {
  id: string
  app: string
  record: Record<string, unknown>
}

/**
 * Where a host keeps its machines across agent restarts (kill -9 included): one row per
 * machine, written on every state change, read back at start to re-adopt running VMs.
 */
export interface MachineStore {
  list: () => StoredMachine[]
  get: (id: string) => StoredMachine | undefined
  put: (m: StoredMachine) => void
  delete: (id: string) => void
  close: () => void
}

/** SQLite (better-sqlite3, WAL, synchronous=NORMAL: a write survives a process kill). */
export function createSqliteMachineStore (init: { path: string }): MachineStore {
  mkdirSync(dirname(init.path), { recursive: true })
  const db = new Database(init.path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  // A host's machine records are a few KB: a small page cache keeps the idle agent small.
  db.pragma('cache_size = -64')
  db.exec('CREATE TABLE IF NOT EXISTS machines (id TEXT PRIMARY KEY, app TEXT NOT NULL, record TEXT NOT NULL)')
  const all = db.prepare<[], { id: string, app: string, record: string }>('SELECT id, app, record FROM machines ORDER BY id')
  const one = db.prepare<[string], { id: string, app: string, record: string }>('SELECT id, app, record FROM machines WHERE id = ?')
  const upsert = db.prepare('INSERT INTO machines (id, app, record) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET app = excluded.app, record = excluded.record')
  const del = db.prepare('DELETE FROM machines WHERE id = ?')
  const parse = (r: { id: string, app: string, record: string }): StoredMachine => ({ id: r.id, app: r.app, record: JSON.parse(r.record) as Record<string, unknown> })
  let open = true
  return {
    list: () => all.all().map(parse),
    get: (id) => { const r = one.get(id); return r === undefined ? undefined : parse(r) },
    put: (m) => { upsert.run(m.id, m.app, JSON.stringify(m.record)) },
    delete: (id) => { del.run(id) },
    close: () => { if (open) { open = false; db.close() } }
  }
}

/** In-memory store for unit tests. */
export function createMemoryMachineStore (): MachineStore {
  const rows = new Map<string, string>()
  return {
    list: () => [...rows.values()].map(s => JSON.parse(s) as StoredMachine).sort((a, b) => a.id.localeCompare(b.id)),
    get: (id) => { const s = rows.get(id); return s === undefined ? undefined : JSON.parse(s) as StoredMachine },
    put: (m) => { rows.set(m.id, JSON.stringify(m)) },
    delete: (id) => { rows.delete(id) },
    close: () => {}
  }
}

/**
 * The machines of a store another process owns (or owned), read-only: for a supervisor checking
 * what an agent left behind. None when there is no store.
 */
export function readStoredMachines (path: string): StoredMachine[] {
  if (!existsSync(path)) return []
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare<[], { id: string, app: string, record: string }>('SELECT id, app, record FROM machines ORDER BY id').all()
      .map(r => ({ id: r.id, app: r.app, record: JSON.parse(r.record) as Record<string, unknown> }))
  } catch {
    return []
  } finally {
    db.close()
  }
}
