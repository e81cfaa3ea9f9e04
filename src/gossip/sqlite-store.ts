import Database from 'better-sqlite3'
import { createCodec } from '../codec/codec.js'
import { ConfigError, NotStartedError } from '../errors/errors.js'
import { RoostError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { RefusedRow, ReplicaStore } from './replica-store.js'
import type { StoredRow, TableName } from './rows.js'

/**
 * The layout this code writes, kept in `PRAGMA user_version`. 2 added `sig` (rows are signed);
 * a version-1 file is migrated in place: its rows load with an empty signature, which the
 * replica treats as a row stored before signatures (it re-signs its own, drops the others).
 */
export const SQLITE_STORE_SCHEMA_VERSION = 2

export interface SqliteStoreInit {
  /** The database file; created if absent. */
  path: string
}

export interface SqliteStoreComponents {
  /** Told about rows that cannot be decoded (they are skipped by `load`) and about migrations. */
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
  sig: Buffer | null
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
    sig BLOB,
    PRIMARY KEY (tbl, key)
  ) WITHOUT ROWID`

const MIGRATIONS: Record<number, string> = {
  1: 'ALTER TABLE rows ADD COLUMN sig BLOB'
}

/**
 * A replica store in one SQLite file (WAL, synchronous=NORMAL: a power cut may lose the last
 * transactions but never corrupts the file; peers resend what was lost). Row data is msgpack.
 * Throws {@link ConfigError} when the file is not a database or was written by a newer roost.
 */
export function createSqliteStore (init: SqliteStoreInit, components: SqliteStoreComponents = {}): ReplicaStore {
  const db = open(init.path, components.logger)
  const codec = createCodec()
  const insert = db.prepare<[string, string, string, number, number, Buffer | null, number, number, Uint8Array]>(
    'INSERT OR REPLACE INTO rows (tbl, key, owner, version, deleted, data, received_at, owner_dead, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const del = db.prepare<[string, string]>('DELETE FROM rows WHERE tbl = ? AND key = ?')
  const all = db.prepare<[], DbRow>('SELECT tbl, key, owner, version, deleted, data, received_at, owner_dead, sig FROM rows')
  const putMany = db.transaction((rows: Array<[StoredRow, Buffer | null]>) => {
    for (const [r, data] of rows) {
      insert.run(r.table, r.key, r.owner, r.version, r.deleted ? 1 : 0, data, r.receivedAt, r.ownerDead ? 1 : 0, r.sig)
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
      sig: r.sig === null ? new Uint8Array(0) : new Uint8Array(r.sig),
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
      const refused: RefusedRow[] = []
      const encoded: Array<[StoredRow, Buffer | null]> = []
      for (const row of rows) {
        try {
          encoded.push([row, row.data === null ? null : codec.encode(row.data)])
        } catch (err) {
          refused.push({ row, error: err as Error })
        }
      }
      if (encoded.length > 0) putMany(encoded)
      return refused
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

function open (path: string, logger: Logger | undefined): Database.Database {
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
        if (version === 0) target.exec(CREATE)
        else for (let v = version; v < SQLITE_STORE_SCHEMA_VERSION; v++) target.exec(MIGRATIONS[v] as string)
        target.pragma(`user_version = ${SQLITE_STORE_SCHEMA_VERSION}`)
      })()
      if (version > 0) logger?.info({ path, from: version, to: SQLITE_STORE_SCHEMA_VERSION }, 'replica store migrated')
    }
    return db
  } catch (err) {
    db?.close()
    if (err instanceof RoostError) throw err
    throw new ConfigError(`cannot open replica store ${path}: ${(err as Error).message}`, { path })
  }
}
