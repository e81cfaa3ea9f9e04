import { InvalidArgumentError, InvalidMessageError, NotStartedError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import { compareVersions, createDigest, diffEntries, rowId, type DigestEntry, type RowKey } from './digest.js'
import { createHlc, hlcPhysicalMs } from './hlc.js'
import type { ReplicaStore } from './replica-store.js'
import { checkRow, dataError, MAX_KEY_LENGTH } from './row-check.js'
import { TABLES, type ChangeEvent, type Row, type StoredRow, type TableName } from './rows.js'

export const DEFAULT_TOMBSTONE_TTL_MS = 24 * 60 * 60 * 1000
export const DEFAULT_BUCKETS = 64
export { MAX_KEY_LENGTH } from './row-check.js'

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
}

export interface MergeResult {
  /** The rows taken, in input order, as plain rows (ready to forward). */
  accepted: Row[]
  rejected: Array<{ reason: string, row: unknown }>
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
  /** Loads the store and arms tombstone expiry; idempotent. */
  start: () => void
  /** Disarms tombstone expiry; idempotent. Rows stay readable. */
  stop: () => void
  /**
   * Writes a row as its owner. Throws {@link InvalidMessageError} if `data` does not match the
   * table's schema, and {@link InvalidArgumentError} if the row belongs to another host that is
   * not declared dead (a tombstone belongs to nobody).
   */
  write: (table: TableName, key: string, data: Record<string, unknown>) => StoredRow
  /** Replaces the row by a tombstone, with the same ownership rule as `write`. Deleting a tombstone returns it unchanged. */
  delete: (table: TableName, key: string) => StoredRow
  /**
   * Merges rows received from `from`. Each row is checked on its own: invalid ones, and ones
   * that claim this host as owner with a version it never wrote, are rejected and logged. A
   * tombstone for a key we do not hold whose version is older than the TTL is ignored (we
   * expired it already; taking it back would bounce it between hosts). Throws only if the
   * store fails, and then applies nothing.
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
}

const HEX64 = /^[0-9a-f]{64}$/

type Change = [ChangeEvent['kind'], StoredRow]
interface Subscription { filter: SubscribeFilter, listener: (e: ChangeEvent) => void, active: boolean }

export function createReplica (init: ReplicaInit, components: ReplicaComponents): Replica {
  const { clock, store } = components
  const log = components.logger.child({ component: 'replica' })
  const hostId = init.hostId
  if (!HEX64.test(hostId)) throw new InvalidArgumentError('replica hostId must be 64 lowercase hex characters', { hostId })
  const ttl = init.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS
  const sweepMs = init.tombstoneSweepMs ?? Math.max(1, Math.min(Math.ceil(ttl / 4), 3_600_000))
  const nBuckets = init.buckets ?? DEFAULT_BUCKETS
  const digest = createDigest(nBuckets)
  const hlc = createHlc(clock, init.maxDriftMs === undefined ? {} : { maxDriftMs: init.maxDriftMs })

  const byTable = new Map<string, Map<string, StoredRow>>(TABLES.map(t => [t, new Map()]))
  const deadOwners = new Set<string>()
  const subscriptions = new Set<Subscription>()
  const queue: ChangeEvent[] = []
  let delivering = false
  let seq = 0
  let live = 0
  let tombstones = 0
  let rejectedCount = 0
  let mergedCount = 0
  let started = false
  let timer: unknown

  const tally = (row: StoredRow, n: number): void => {
    if (row.deleted) tombstones += n
    else live += n
  }

  const lookup = (table: string, key: string): StoredRow | undefined => byTable.get(table)?.get(key)

  const apply = (next: StoredRow): void => {
    const prev = lookup(next.table, next.key)
    if (prev !== undefined) tally(prev, -1)
    tally(next, 1)
    byTable.get(next.table)?.set(next.key, next)
    digest.update(prev, next)
  }

  const drop = (row: StoredRow): void => {
    tally(row, -1)
    byTable.get(row.table)?.delete(row.key)
    digest.update(row, undefined)
  }

  const deliver = (e: ChangeEvent): void => {
    for (const s of [...subscriptions]) {
      if (!s.active || (s.filter.table !== undefined && s.filter.table !== e.row.table)) continue
      try {
        if (s.filter.where === undefined || s.filter.where(e.row)) s.listener(e)
      } catch (err) {
        log.warn({ err, seq: e.seq, kind: e.kind }, 'change listener threw')
      }
    }
  }

  // Events of one change are queued together; a listener that writes gets its events queued
  // behind them, so delivery follows seq.
  const emit = (events: Change[]): void => {
    for (const [kind, row] of events) queue.push({ seq: ++seq, kind, row })
    if (delivering) return
    delivering = true
    try {
      for (let i = 0; i < queue.length; i++) deliver(queue[i] as ChangeEvent)
    } finally {
      queue.length = 0
      delivering = false
    }
  }

  const requireStarted = (): void => {
    if (!started) throw new NotStartedError('replica is not started')
  }

  const checkTarget = (table: string, key: string): void => {
    if (!byTable.has(table)) throw new InvalidArgumentError(`unknown table '${table}'`, { table })
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new InvalidArgumentError(`row key must be a string of 1–${MAX_KEY_LENGTH} characters`, { table })
    }
  }

  const commitLocal = (table: TableName, key: string, data: Record<string, unknown> | null): StoredRow => {
    const cur = lookup(table, key)
    if (cur !== undefined && !cur.deleted && cur.owner !== hostId && !cur.ownerDead) {
      throw new InvalidArgumentError(`${table}/${key} is owned by host ${cur.owner.slice(0, 12)}, which is alive; only its owner may write it`,
        { table, key, owner: cur.owner })
    }
    if (cur?.owner === hostId) hlc.advance(cur.version)
    else if (cur !== undefined) hlc.observe(cur.version)
    const version = hlc.now()
    if (cur !== undefined && version <= cur.version) {
      throw new InvalidArgumentError(`${table}/${key} has a version beyond the allowed clock drift; cannot supersede it yet`, { table, key })
    }
    const row = stored({ table, key, owner: hostId, version, deleted: data === null, data }, clock.now(), false)
    store.put([row])
    apply(row)
    emit([[row.deleted ? 'delete' : 'upsert', row]])
    return row
  }

  const setOwnerDead = (owner: string, dead: boolean): number => {
    requireStarted()
    if (deadOwners.has(owner) === dead) return 0
    if (dead) deadOwners.add(owner)
    else deadOwners.delete(owner)
    const changed: StoredRow[] = []
    for (const rows of byTable.values()) {
      for (const r of rows.values()) if (r.owner === owner && r.ownerDead !== dead) changed.push(Object.freeze({ ...r, ownerDead: dead }))
    }
    if (changed.length === 0) return 0
    store.put(changed)
    for (const r of changed) apply(r)
    emit(changed.filter(r => !r.deleted).map((r): Change => [dead ? 'owner-dead' : 'owner-alive', r]))
    return changed.length
  }

  const expireTombstones = (now = clock.now()): number => {
    const gone: StoredRow[] = []
    for (const rows of byTable.values()) for (const r of rows.values()) if (r.deleted && r.receivedAt < now - ttl) gone.push(r)
    if (gone.length === 0) return 0
    store.remove(gone.map(r => [r.table, r.key]))
    for (const r of gone) drop(r)
    log.debug({ count: gone.length }, 'expired tombstones')
    return gone.length
  }

  const schedule = (): void => {
    timer = clock.setTimeout(() => {
      timer = undefined
      if (!started) return
      try {
        expireTombstones()
      } catch (err) {
        log.error({ err }, 'tombstone expiry failed')
      }
      schedule()
    }, sweepMs)
  }

  const getRows = (keys: RowKey[]): Row[] => {
    const out: Row[] = []
    for (const [table, key] of keys) {
      const r = lookup(table, key)
      if (r !== undefined) out.push(toRow(r))
    }
    return out
  }

  return {
    hostId,
    buckets: nBuckets,
    start () {
      if (started) return
      const loaded = store.load()
      for (const rows of byTable.values()) rows.clear()
      digest.clear()
      deadOwners.clear()
      live = tombstones = 0
      for (const s of loaded) {
        const row = checkRow(s)
        if (typeof row === 'string') {
          log.warn({ reason: row, table: s?.table, key: s?.key }, 'skipping an invalid stored row')
          continue
        }
        if (row.owner === hostId) hlc.advance(row.version)
        else hlc.observe(row.version)
        apply(stored(row, Number.isFinite(s.receivedAt) ? s.receivedAt : clock.now(), false))
      }
      started = true
      expireTombstones()
      schedule()
      log.debug({ rows: live, tombstones }, 'replica started')
    },
    stop () {
      if (!started) return
      started = false
      if (timer !== undefined) clock.clearTimeout(timer)
      timer = undefined
    },
    write (table, key, data) {
      requireStarted()
      checkTarget(table, key)
      const why = dataError(table, data)
      if (why !== undefined) throw new InvalidMessageError(why, { table, key })
      let copy: Record<string, unknown>
      try {
        copy = structuredClone(data)
      } catch (err) {
        throw new InvalidMessageError(`row data cannot be copied: ${(err as Error).message}`, { table, key })
      }
      return commitLocal(table, key, copy)
    },
    delete (table, key) {
      requireStarted()
      checkTarget(table, key)
      const cur = lookup(table, key)
      return cur?.deleted === true ? cur : commitLocal(table, key, null)
    },
    merge (rows, from) {
      requireStarted()
      const now = clock.now()
      const staged = new Map<string, StoredRow>()
      const taken: StoredRow[] = []
      const result: MergeResult = { accepted: [], rejected: [] }
      const reject = (row: unknown, reason: string, where: Record<string, unknown> = {}): void => {
        result.rejected.push({ reason, row })
        log.warn({ from, ...where, reason }, 'rejected a replicated row')
      }
      for (const value of Array.isArray(rows) ? rows : [rows]) {
        const row = checkRow(value)
        if (typeof row === 'string') {
          reject(value, row)
          continue
        }
        const id = rowId(row.table, row.key)
        const cur = staged.get(id) ?? lookup(row.table, row.key)
        if (cur !== undefined && compareVersions(row, cur) <= 0) continue
        const where = { table: row.table, key: row.key, version: row.version }
        if (row.owner === hostId) {
          hlc.observe(row.version)
          reject(value, 'claims this host as owner with a version newer than this host holds', where)
          continue
        }
        if (row.deleted && cur === undefined && hlcPhysicalMs(row.version) < now - ttl) continue
        if (!hlc.observe(row.version)) log.warn({ from, ...where }, 'row version is beyond the allowed clock drift; not advancing the clock')
        const s = stored(row, now, deadOwners.has(row.owner))
        staged.set(id, s)
        taken.push(s)
        result.accepted.push(toRow(s))
      }
      rejectedCount += result.rejected.length
      if (staged.size === 0) return result
      store.put([...staged.values()])
      for (const s of staged.values()) apply(s)
      mergedCount += result.accepted.length
      emit(taken.map((s): Change => [s.deleted ? 'delete' : 'upsert', s]))
      return result
    },
    get: lookup,
    list (table, filter = {}) {
      const out: StoredRow[] = []
      for (const r of byTable.get(table)?.values() ?? []) {
        if ((r.deleted && filter.includeDeleted !== true) || (filter.where !== undefined && !filter.where(r))) continue
        out.push(r)
      }
      return out
    },
    count (table) {
      if (table === undefined) return live
      let n = 0
      for (const r of byTable.get(table)?.values() ?? []) if (!r.deleted) n++
      return n
    },
    markOwnerDead: (owner) => setOwnerDead(owner, true),
    markOwnerAlive: (owner) => setOwnerDead(owner, false),
    subscribe (filter, listener) {
      const s: Subscription = { filter, listener, active: true }
      subscriptions.add(s)
      return () => {
        s.active = false
        subscriptions.delete(s)
      }
    },
    digest: () => digest.values(),
    bucketEntries: (bucketIds) => digest.entries(bucketIds),
    rowsNewerThan: (entries, bucketIds) => getRows(diffEntries(digest.entries(bucketIds), entries).push),
    wanted (entries) {
      const out: RowKey[] = []
      for (const [table, key, version, owner] of entries) {
        if (!byTable.has(table) || typeof key !== 'string') continue
        const cur = lookup(table, key)
        if (cur !== undefined && compareVersions({ version, owner }, cur) <= 0) continue
        if (owner !== hostId) out.push([table, key])
      }
      return out
    },
    getRows,
    expireTombstones,
    stats: () => ({ rows: live, tombstones, rejected: rejectedCount, merged: mergedCount })
  }
}

function stored (row: Row, receivedAt: number, ownerDead: boolean): StoredRow {
  if (row.data !== null) deepFreeze(row.data)
  return Object.freeze({ ...row, receivedAt, ownerDead })
}

function toRow (r: StoredRow): Row {
  return { table: r.table, key: r.key, owner: r.owner, version: r.version, deleted: r.deleted, data: r.data }
}

function deepFreeze (value: unknown): void {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const v of Object.values(value)) deepFreeze(v)
}
