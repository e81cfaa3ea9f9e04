import type { RoostError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import type { DigestEntry, RowKey } from './digest.js'
import type { ReplicaStore } from './replica-store.js'
import type { RowSigner } from './row-signature.js'
import type { ChangeEvent, Row, StoredRow, TableName } from './rows.js'

export interface ReplicaInit {
  /** This host's id (64 hex): the owner of its local writes. */
  hostId: string
  /** How long a tombstone is kept after this host received it; default 24 h. */
  tombstoneTtlMs?: number
  /** How often expired tombstones are swept; default min(ttl / 4, 1 h). */
  tombstoneSweepMs?: number
  /** Digest buckets; every host of a cluster must use the same number. Default 64. */
  buckets?: number
  /** Bound on how far ahead of local wall time a merged version may pull the clock; default 60 s. */
  maxDriftMs?: number
}

export interface ReplicaComponents {
  logger: Logger
  clock: Clock
  /** Written through on every change; not closed by the replica. */
  store: ReplicaStore
  /** Signs this host's writes; its `hostId` must be the replica's. */
  signer: RowSigner
}

/** A row the replica refused, and why. */
export interface RejectedRow {
  /** As received. */
  row: unknown
  reason: string
  /** `InvalidRowError`, `RowSignatureError` or `RowNotStorableError`. */
  error: RoostError
}

export interface MergeResult {
  /** The rows taken, in input order, as plain rows (ready to forward). */
  accepted: Row[]
  rejected: RejectedRow[]
}

export interface SubscribeFilter {
  table?: TableName
  where?: (row: StoredRow) => boolean
}

export interface ListFilter {
  /** Include tombstones; default false. */
  includeDeleted?: boolean
  where?: (row: StoredRow) => boolean
}

export interface ReplicaStats {
  /** Live rows (tombstones excluded). */
  rows: number
  tombstones: number
  /** Rows refused by `merge` since creation. */
  rejected: number
  /** Rows accepted by `merge` since creation. */
  merged: number
  /** Rows refused by `merge`, by error code (`ERR_INVALID_ROW`, `ERR_ROW_SIGNATURE`, `ERR_ROW_NOT_STORABLE`). */
  rejectedByCode: Record<string, number>
  /** Stored rows `start` did not load (invalid, unsigned or not their owner's signature) since creation. */
  skippedOnLoad: number
}

/**
 * This host's replica of the cluster tables. Local writes are owned by this host; rows from
 * peers arrive through `merge`, which keeps the larger (version, owner) per (table, key).
 * Every change is written through to the store first, then applied in memory, then delivered to
 * subscribers synchronously and in `seq` order. Rows returned are frozen and shared: copy them
 * to change them.
 */
export interface Replica {
  readonly hostId: string
  readonly buckets: number
  /**
   * Loads the store and arms tombstone expiry; idempotent. Stored rows are checked and verified
   * like merged ones; those that fail are skipped with a log line. Own rows stored before rows
   * were signed (an empty signature) are signed now and written back; other hosts' are skipped
   * (anti-entropy fetches them again, signed).
   */
  start: () => void
  /** Disarms tombstone expiry; idempotent. Rows stay readable. */
  stop: () => void
  /**
   * Writes and signs a row as its owner. Throws {@link InvalidMessageError} if `data` does not
   * match the table's schema, and {@link InvalidArgumentError} if the row belongs to another
   * host that is not declared dead (a tombstone belongs to nobody) or is about another host
   * (`rowSubject`: e.g. another host's `hosts` row).
   */
  write: (table: TableName, key: string, data: Record<string, unknown>) => StoredRow
  /** Replaces the row by a tombstone, with the same ownership rule as `write`. Deleting a tombstone returns it unchanged. */
  delete: (table: TableName, key: string) => StoredRow
  /**
   * Merges rows received from `from`. Each row is checked on its own and, when it would be
   * taken, its signature verified against its owner: invalid ones, ones not signed by their
   * owner, ones that claim this host as owner with a version it never wrote, and ones the store
   * cannot encode are rejected, logged and counted; the rest of the batch is taken. A tombstone
   * for a key we do not hold whose version is older than the TTL is ignored (we expired it
   * already; taking it back would bounce it between hosts). Throws only if the store fails,
   * and then applies nothing.
   */
  merge: (rows: unknown[], from: string) => MergeResult
  get: (table: TableName, key: string) => StoredRow | undefined
  list: (table: TableName, filter?: ListFilter) => StoredRow[]
  /** Live rows, in one table or all. */
  count: (table?: TableName) => number
  /**
   * Flags every row of `owner` (tombstones included) as `ownerDead`, also rows merged later, and
   * emits `owner-dead` for each live one; idempotent. Returns the number of rows flagged. The
   * flags are written to the store but `start` does not restore them: after a restart every
   * owner counts as alive until membership declares it dead again, because a host wrongly
   * believed dead could have its rows taken over.
   */
  markOwnerDead: (owner: string) => number
  markOwnerAlive: (owner: string) => number
  /** Delivers matching change events until the returned function is called. */
  subscribe: (filter: SubscribeFilter, listener: (e: ChangeEvent) => void) => () => void
  /** One 32-bit hash per bucket (see digest.ts). */
  digest: () => number[]
  /** What this replica holds in those buckets, tombstones included. */
  bucketEntries: (bucketIds: number[]) => DigestEntry[]
  /** Our rows in `bucketIds` that the peer, whose entries for those buckets are given, lacks or holds older. */
  rowsNewerThan: (entries: DigestEntry[], bucketIds: number[]) => Row[]
  /** The peer's entries that are newer than what we hold (and that we would accept). */
  wanted: (entries: DigestEntry[]) => RowKey[]
  /** The rows we hold for those keys, tombstones included; unknown keys are skipped. */
  getRows: (keys: RowKey[]) => Row[]
  /** Drops tombstones received more than the TTL before `now`; returns how many. */
  expireTombstones: (now?: number) => number
  stats: () => ReplicaStats
  /** Live rows and tombstones of each table. */
  tableCounts: () => Record<TableName, { rows: number, tombstones: number }>
}

