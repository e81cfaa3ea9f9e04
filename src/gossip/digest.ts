import { Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { InvalidArgumentError, InvalidMessageError } from '../errors/errors.js'
import { TABLES, type Row, type TableName } from './rows.js'

/** What a replica holds for one row, as peers compare it: (table, key, version, owner). */
export type DigestEntry = [table: TableName, key: string, version: number, owner: string]

/** A row's identity. */
export type RowKey = [table: TableName, key: string]

/** The fields of a row that its digest hash covers. */
export type DigestedRow = Pick<Row, 'table' | 'key' | 'owner' | 'version' | 'deleted'>

const TableSchema = Type.Union(TABLES.map(t => Type.Literal(t)))
const KeySchema = Type.String({ minLength: 1, maxLength: 256 })

/** Wire schema of a list of digest entries (e.g. a peer's `bucketEntries` answer). */
export const DigestEntriesSchema = Type.Array(Type.Tuple([
  TableSchema,
  KeySchema,
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  Type.String({ pattern: '^[0-9a-f]{64}$' })
]))

/** Wire schema of a list of row keys (e.g. a `getRows` request). */
export const RowKeysSchema = Type.Array(Type.Tuple([TableSchema, KeySchema]))

const entriesCheck = TypeCompiler.Compile(DigestEntriesSchema)
const keysCheck = TypeCompiler.Compile(RowKeysSchema)

/**
 * A digest: one 32-bit hash per bucket, the XOR of the hashes of the rows in that bucket, so it
 * does not depend on the order rows arrived in and is updated in O(1) per change; plus the
 * entries of each bucket, for the exchange that follows a mismatch. Hashes are FNV-1a with a
 * murmur finaliser over UTF-16 code units: stable across hosts and versions, but not meant to
 * resist a malicious peer.
 */
export interface Digest {
  readonly buckets: number
  /** Replaces `prev` by `next` (same table and key; either may be absent). */
  update: (prev: DigestedRow | undefined, next: DigestedRow | undefined) => void
  values: () => number[]
  /** The entries held in those buckets; ids out of range are ignored. */
  entries: (bucketIds: number[]) => DigestEntry[]
  clear: () => void
}

export function createDigest (buckets: number): Digest {
  if (!Number.isInteger(buckets) || buckets < 1) throw new InvalidArgumentError(`digest needs a positive integer bucket count, got ${buckets}`)
  const hashes = new Uint32Array(buckets)
  const members = Array.from({ length: buckets }, () => new Map<string, DigestEntry>())
  return {
    buckets,
    update (prev, next) {
      const row = prev ?? next
      if (row === undefined) return
      const b = bucketOf(row.table, row.key, buckets)
      const id = rowId(row.table, row.key)
      if (prev !== undefined) {
        hashes[b] = (hashes[b] ?? 0) ^ rowHash(prev)
        members[b]?.delete(id)
      }
      if (next !== undefined) {
        hashes[b] = (hashes[b] ?? 0) ^ rowHash(next)
        members[b]?.set(id, [next.table, next.key, next.version, next.owner])
      }
    },
    values: () => Array.from(hashes),
    entries (bucketIds) {
      const out: DigestEntry[] = []
      for (const b of new Set(bucketIds)) for (const e of members[b]?.values() ?? []) out.push([...e])
      return out
    },
    clear () {
      hashes.fill(0)
      for (const m of members) m.clear()
    }
  }
}

/** The composite key of a row in maps. */
export function rowId (table: string, key: string): string {
  return `${table}\0${key}`
}

/** The bucket a row falls in. */
export function bucketOf (table: string, key: string, buckets: number): number {
  return hash32(rowId(table, key)) % buckets
}

/** The hash of a row's identity and version, as its bucket's digest combines it. */
export function rowHash (row: DigestedRow): number {
  return hash32(`${row.table}\0${row.key}\0${row.owner}\0${row.version}\0${row.deleted ? 1 : 0}`)
}

/** Orders rows by (version, owner): positive when `a` wins the merge. */
export function compareVersions (a: { version: number, owner: string }, b: { version: number, owner: string }): number {
  if (a.version !== b.version) return a.version < b.version ? -1 : 1
  return a.owner === b.owner ? 0 : a.owner < b.owner ? -1 : 1
}

/** The buckets whose hashes differ. Digests of different sizes cannot be compared. */
export function differingBuckets (a: number[], b: number[]): number[] {
  if (a.length !== b.length) throw new InvalidArgumentError(`digests have ${a.length} and ${b.length} buckets`)
  const out: number[] = []
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i)
  return out
}

/**
 * Compares our entries with a peer's for the same buckets: `push` lists our rows the peer lacks
 * or holds older, `pull` the peer's rows we lack or hold older. Equal entries are in neither.
 */
export function diffEntries (ours: DigestEntry[], theirs: DigestEntry[]): { push: RowKey[], pull: RowKey[] } {
  const mine = new Map<string, DigestEntry>()
  for (const e of ours) mine.set(rowId(e[0], e[1]), e)
  const peer = new Map<string, DigestEntry>()
  for (const e of theirs) peer.set(rowId(e[0], e[1]), e)
  const push: RowKey[] = []
  for (const [id, m] of mine) {
    const e = peer.get(id)
    if (e === undefined || compareEntries(m, e) > 0) push.push([m[0], m[1]])
  }
  const pull: RowKey[] = []
  for (const [id, e] of peer) {
    const m = mine.get(id)
    if (m === undefined || compareEntries(e, m) > 0) pull.push([e[0], e[1]])
  }
  return { push, pull }
}

/** Positive when entry `a` is newer than `b`. */
export function compareEntries (a: DigestEntry, b: DigestEntry): number {
  return compareVersions({ version: a[2], owner: a[3] }, { version: b[2], owner: b[3] })
}

/** Validates digest entries received from a peer; throws {@link InvalidMessageError}. */
export function parseDigestEntries (value: unknown): DigestEntry[] {
  if (entriesCheck.Check(value)) return value as DigestEntry[]
  const first = entriesCheck.Errors(value).First()
  throw new InvalidMessageError(`invalid digest entries${first === undefined ? '' : ` at '${first.path || '/'}': ${first.message}`}`)
}

/** Validates row keys received from a peer; throws {@link InvalidMessageError}. */
export function parseRowKeys (value: unknown): RowKey[] {
  if (keysCheck.Check(value)) return value as RowKey[]
  const first = keysCheck.Errors(value).First()
  throw new InvalidMessageError(`invalid row keys${first === undefined ? '' : ` at '${first.path || '/'}': ${first.message}`}`)
}

function hash32 (s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
