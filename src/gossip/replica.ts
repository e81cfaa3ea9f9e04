import { InvalidArgumentError, InvalidMessageError, InvalidRowError, NotStartedError, RowNotStorableError, RowSignatureError } from '../errors/errors.js'
import type { RoostError } from '../errors/roost-error.js'
import { compareVersions, createDigest, diffEntries, rowId, type RowKey } from './digest.js'
import { createHlc, hlcPhysicalMs } from './hlc.js'
import type { MergeResult, Replica, ReplicaComponents, ReplicaInit, SubscribeFilter } from './replica-api.js'
import { checkRow, dataError, MAX_KEY_LENGTH, subjectError } from './row-check.js'
import { ROW_SIGNATURE_BYTES, verifyRowSignature } from './row-signature.js'
import { TABLES, toRow, type ChangeEvent, type Row, type StoredRow, type TableName, type UnsignedRow } from './rows.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'

export const DEFAULT_TOMBSTONE_TTL_MS = 24 * 60 * 60 * 1000
export const DEFAULT_BUCKETS = 64
export { MAX_KEY_LENGTH } from './row-check.js'
export type { ListFilter, MergeResult, RejectedRow, Replica, ReplicaComponents, ReplicaInit, ReplicaStats, SubscribeFilter } from './replica-api.js'

const HEX64 = /^[0-9a-f]{64}$/
/** Stands in for the signature of an own row stored before rows were signed, while it is checked. */
const UNSIGNED = new Uint8Array(ROW_SIGNATURE_BYTES)

type Change = [ChangeEvent['kind'], StoredRow]
interface Subscription { filter: SubscribeFilter, listener: (e: ChangeEvent) => void, active: boolean }

export function createReplica (init: ReplicaInit, components: ReplicaComponents): Replica {
  const { clock, store, signer } = components
  const log = components.logger.child({ component: 'replica' })
  const logGate = createLogLimiter({}, { clock })
  const hostId = init.hostId
  if (!HEX64.test(hostId)) throw new InvalidArgumentError('replica hostId must be 64 lowercase hex characters', { hostId })
  if (signer.hostId !== hostId) throw new InvalidArgumentError(`the replica's signer is host ${signer.hostId.slice(0, 12)}, not ${hostId.slice(0, 12)}`, { hostId })
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
  let skippedOnLoad = 0
  const rejectedByCode: Record<string, number> = {}
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
    const notOurs = subjectError(table, key, hostId, data)
    if (notOurs !== undefined) throw new InvalidArgumentError(notOurs, { table, key })
    if (cur?.owner === hostId) hlc.advance(cur.version)
    else if (cur !== undefined) hlc.observe(cur.version)
    const version = hlc.now()
    if (cur !== undefined && version <= cur.version) {
      throw new InvalidArgumentError(`${table}/${key} has a version beyond the allowed clock drift; cannot supersede it yet`, { table, key })
    }
    const unsigned: UnsignedRow = { table, key, owner: hostId, version, deleted: data === null, data }
    const row = stored({ ...unsigned, sig: signer.sign(unsigned) }, clock.now(), false)
    const refused = store.put([row])
    if (refused.length > 0) throw new RowNotStorableError(`${table}/${key} cannot be stored: ${refused[0]?.error.message ?? ''}`, { table, key })
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
    // Rows the store took once it takes again; the flag is not restored by start anyway.
    for (const { row, error } of store.put(changed)) log.warn({ table: row.table, key: row.key, err: error.message }, 'owner-dead flag not stored')
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

  /** A stored row as it may be loaded (re-signed if it is an own row stored unsigned), or why not. */
  const admitStored = (s: StoredRow, legacy: boolean): Row | RoostError => {
    const row = checkRow({ table: s.table, key: s.key, owner: s.owner, version: s.version, deleted: s.deleted, data: s.data, sig: legacy ? UNSIGNED : s.sig })
    if (typeof row === 'string') return new InvalidRowError(row)
    if (legacy) return { ...row, sig: signer.sign(row) }
    return verifyRowSignature(row) ? row : new RowSignatureError('the signature is not the owner\'s')
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
      const resigned: StoredRow[] = []
      for (const s of loaded) {
        const legacy = s?.owner === hostId && s.sig instanceof Uint8Array && s.sig.byteLength === 0
        const row = guarded(() => admitStored(s, legacy))
        if (!('table' in row)) {
          skippedOnLoad++
          log.warn({ code: row.code, reason: row.message, table: s?.table, key: s?.key, owner: s?.owner }, 'skipping a stored row')
          continue
        }
        if (row.owner === hostId) hlc.advance(row.version)
        else hlc.observe(row.version)
        const r = stored(row, Number.isFinite(s.receivedAt) ? s.receivedAt : clock.now(), false)
        if (legacy) resigned.push(r)
        apply(r)
      }
      if (resigned.length > 0) {
        store.put(resigned)
        log.info({ rows: resigned.length }, 'signed own rows stored before rows were signed')
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
      const taken: Array<[unknown, StoredRow]> = []
      const result: MergeResult = { accepted: [], rejected: [] }
      const reject = (row: unknown, error: RoostError, where: Record<string, unknown> = {}): void => {
        result.rejected.push({ reason: error.message, row, error })
        rejectedByCode[error.code] = (rejectedByCode[error.code] ?? 0) + 1
        const gate = logGate.take(`${from ?? ''}:${error.code}`)
        if (gate !== false) log.warn({ from, ...where, code: error.code, reason: error.message, ...suppressedField(gate) }, 'rejected a replicated row')
      }
      for (const value of Array.isArray(rows) ? rows : [rows]) {
        const row = guarded(() => checkRow(value))
        if (typeof row === 'string' || !('table' in row)) {
          reject(value, typeof row === 'string' ? new InvalidRowError(row) : row)
          continue
        }
        const id = rowId(row.table, row.key)
        const cur = staged.get(id) ?? lookup(row.table, row.key)
        if (cur !== undefined && compareVersions(row, cur) <= 0) continue
        const where = { table: row.table, key: row.key, owner: row.owner, version: row.version }
        if (row.owner === hostId) {
          hlc.observe(row.version)
          reject(value, new InvalidRowError('claims this host as owner with a version newer than this host holds'), where)
          continue
        }
        if (row.deleted && cur === undefined && hlcPhysicalMs(row.version) < now - ttl) continue
        if (!verifyRowSignature(row)) {
          reject(value, new RowSignatureError('the signature is not the owner\'s'), where)
          continue
        }
        if (!hlc.observe(row.version)) log.warn({ from, ...where }, 'row version is beyond the allowed clock drift; not advancing the clock')
        const s = stored(row, now, deadOwners.has(row.owner))
        staged.set(id, s)
        taken.push([value, s])
      }
      if (staged.size > 0) {
        for (const { row, error } of store.put([...staged.values()])) {
          const id = rowId(row.table, row.key)
          staged.delete(id)
          for (const [value, s] of taken) {
            if (rowId(s.table, s.key) === id) reject(value, new RowNotStorableError(`cannot be stored: ${error.message}`), { table: s.table, key: s.key, owner: s.owner, version: s.version })
          }
        }
      }
      rejectedCount += result.rejected.length
      const applied = taken.filter(([, s]) => staged.has(rowId(s.table, s.key)))
      if (applied.length === 0) return result
      for (const s of staged.values()) apply(s)
      for (const [, s] of applied) result.accepted.push(toRow(s))
      mergedCount += applied.length
      emit(applied.map(([, s]): Change => [s.deleted ? 'delete' : 'upsert', s]))
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
    tableCounts () {
      const out = {} as Record<TableName, { rows: number, tombstones: number }>
      for (const [table, rows] of byTable) {
        let dead = 0
        for (const r of rows.values()) if (r.deleted) dead++
        out[table as TableName] = { rows: rows.size - dead, tombstones: dead }
      }
      return out
    },
    stats: () => ({ rows: live, tombstones, rejected: rejectedCount, merged: mergedCount, rejectedByCode: { ...rejectedByCode }, skippedOnLoad })
  }
}

function stored (row: Row, receivedAt: number, ownerDead: boolean): StoredRow {
  if (row.data !== null) deepFreeze(row.data)
  return Object.freeze({ ...row, receivedAt, ownerDead })
}

/** Runs a check that should never throw; if it does (a value no decoder makes), the row is refused, not the batch. */
function guarded<T> (check: () => T): T | RoostError {
  try {
    return check()
  } catch (err) {
    return new InvalidRowError(`row cannot be checked: ${(err as Error).message}`)
  }
}

function deepFreeze (value: unknown): void {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const v of Object.values(value)) deepFreeze(v)
}
