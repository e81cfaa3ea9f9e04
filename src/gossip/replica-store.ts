import { NotStartedError } from '../errors/errors.js'
import type { StoredRow, TableName } from './rows.js'

/** A row a store could not keep (its data cannot be encoded), and why. */
export interface RefusedRow {
  row: StoredRow
  error: Error
}

/**
 * Where a replica keeps its rows across restarts. Calls are synchronous: the replica writes
 * through before it applies a change in memory, so what subscribers saw is on disk. The replica
 * does not close its store; whoever created it does.
 */
export interface ReplicaStore {
  /** Every row held, tombstones included, in no particular order. */
  load: () => StoredRow[]
  /**
   * Inserts or replaces rows by (table, key). A row the store cannot encode is refused on its
   * own and returned; the others are written all or none (a failing store throws and writes
   * nothing).
   */
  put: (rows: StoredRow[]) => RefusedRow[]
  /** Deletes rows by (table, key); absent keys are ignored. */
  remove: (keys: Array<[TableName, string]>) => void
  /** Releases the store; idempotent. Any other call afterwards throws {@link NotStartedError}. */
  close: () => void
}

/** A store that keeps rows in memory only, for tests and for hosts that need no persistence; it refuses no row. */
export function createMemoryStore (): ReplicaStore {
  const rows = new Map<string, StoredRow>()
  let closed = false
  const open = (): void => {
    if (closed) throw new NotStartedError('replica store is closed')
  }
  const id = (table: string, key: string): string => `${table}\0${key}`

  return {
    load () {
      open()
      return [...rows.values()].map(r => ({ ...r }))
    },
    put (batch) {
      open()
      for (const r of batch) rows.set(id(r.table, r.key), { ...r })
      return []
    },
    remove (keys) {
      open()
      for (const [table, key] of keys) rows.delete(id(table, key))
    },
    close () {
      closed = true
    }
  }
}
