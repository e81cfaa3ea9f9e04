import Database from 'better-sqlite3'
import { createCodec } from '../codec/codec.js'
import { ConfigError, NotStartedError } from '../errors/errors.js'
import { RoostError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { ReplicaStore } from './replica-store.js'
import type { StoredRow, TableName } from './rows.js'

/** The layout this code writes, kept in `PRAGMA user_version`. */
export const SQLITE_STORE_SCHEMA_VERSION = 1

export interface SqliteStoreInit {
  /** The database file; created if absent. */
  path: string
}

export interface SqliteStoreComponents {
  /** Told about rows that cannot be decoded (they are skipped by `load`). */
  logger?: Logger
}

interface DbRow {
  tbl: string
  key: string
  owner: string
  version: number
  deleted: number
  data: Buffer | null
  received_at: number
  owner_dead: number
}

const CREATE = `
  CREATE TABLE IF NOT EXISTS rows (
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    data BLOB,
    received_at INTEGER NOT NULL,
    owner_dead INTEGER NOT NULL,
    PRIMARY KEY (tbl, key)
  ) WITHOUT ROWID`

/**
 * A replica store in one SQLite file (WAL, synchronous=NORMAL: a power cut may lose the last
 * transactions but never corrupts the file; peers resend what was lost). Row data is msgpack.
 * Throws {@link ConfigError} when the file is not a database or was written by a newer roost.
 */
export function createSqliteStore (init: SqliteStoreInit, components: SqliteStoreComponents = {}): ReplicaStore {
  const db = open(init.path)
  const codec = createCodec()
  const insert = db.prepare<[string, string, string, number, number, Buffer | null, number, number]>(
    'INSERT OR REPLACE INTO rows (tbl, key, owner, version, deleted, data, received_at, owner_dead) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
  const del = db.prepare<[string, string]>('DELETE FROM rows WHERE tbl = ? AND key = ?')
  const all = db.prepare<[], DbRow>('SELECT tbl, key, owner, version, deleted, data, received_at, owner_dead FROM rows')
  const putMany = db.transaction((rows: StoredRow[]) => {
    for (const r of rows) {
      insert.run(r.table, r.key, r.owner, r.version, r.deleted ? 1 : 0,
        r.data === null ? null : codec.encode(r.data), r.receivedAt, r.ownerDead ? 1 : 0)
    }
  })
  const removeMany = db.transaction((keys: Array<[TableName, string]>) => {
    for (const [table, key] of keys) del.run(table, key)
  })
  let closed = false
  const check = (): void => {
    if (closed) throw new NotStartedError(`replica store ${init.path} is closed`)
  }

  const decode = (r: DbRow): StoredRow | undefined => {
    let data: Record<string, unknown> | null = null
    if (r.data !== null) {
      try {
        data = codec.decode(r.data) as Record<string, unknown>
      } catch (err) {
        components.logger?.warn({ err, table: r.tbl, key: r.key }, 'skipping a stored row whose data cannot be decoded')
        return undefined
      }
    }
    return {
      table: r.tbl as TableName,
      key: r.key,
      owner: r.owner,
      version: r.version,
      deleted: r.deleted !== 0,
      data,
      receivedAt: r.received_at,
      ownerDead: r.owner_dead !== 0
    }
  }

  return {
    load () {
      check()
      const out: StoredRow[] = []
      for (const r of all.iterate()) {
        const row = decode(r)
        if (row !== undefined) out.push(row)
      }
      return out
    },
    put (rows) {
      check()
      if (rows.length > 0) putMany(rows)
    },
    remove (keys) {
      check()
      if (keys.length > 0) removeMany(keys)
    },
    close () {
      if (closed) return
      closed = true
      db.close()
    }
  }
}

function open (path: string): Database.Database {
  let db: Database.Database | undefined
  try {
    db = new Database(path)
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > SQLITE_STORE_SCHEMA_VERSION) {
      throw new ConfigError(`replica store ${path} has schema version ${version}, newer than this roost understands (${SQLITE_STORE_SCHEMA_VERSION}); upgrade roost or move the file away`,
        { path, version, supported: SQLITE_STORE_SCHEMA_VERSION })
    }
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    if (version < SQLITE_STORE_SCHEMA_VERSION) {
      const target = db
      target.transaction(() => {
        target.exec(CREATE)
        target.pragma(`user_version = ${SQLITE_STORE_SCHEMA_VERSION}`)
      })()
    }
    return db
  } catch (err) {
    db?.close()
    if (err instanceof RoostError) throw err
    throw new ConfigError(`cannot open replica store ${path}: ${(err as Error).message}`, { path })
  }
}
