import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ROW_SIGNATURE_BYTES } from './row-signature.js'
import { TABLES, TABLE_SCHEMAS, rowSubject, type Row, type TableName } from './rows.js'

export const MAX_KEY_LENGTH = 256

const HEX64 = /^[0-9a-f]{64}$/
const FIELDS = new Set(['table', 'key', 'owner', 'version', 'deleted', 'data', 'sig'])
const dataChecks = new Map<string, TypeCheck<TSchema>>(TABLES.map(t => [t, TypeCompiler.Compile(TABLE_SCHEMAS[t])]))

/**
 * Checks a row from the network or a store, all but its signature (row-signature.ts): a closed
 * envelope, data that fits the table's closed schema, and, for tables written only by the host
 * a row is about (`rowSubject`), that host as owner. Returns a fresh Row (the signature copied,
 * so it holds no view of a larger frame) or the reason it is invalid. A cyclic or deep value
 * costs no more than a flat one: the schemas are finite and closed, so a check never descends
 * further than they do.
 */
export function checkRow (value: unknown): Row | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object'
  const v = value as Record<string, unknown>
  for (const k of Object.keys(v)) if (!FIELDS.has(k)) return `unknown row field '${k.slice(0, 32)}'`
  if (typeof v.table !== 'string' || !dataChecks.has(v.table)) return 'unknown table'
  if (typeof v.key !== 'string' || v.key.length === 0 || v.key.length > MAX_KEY_LENGTH) return `key must be a string of 1–${MAX_KEY_LENGTH} characters`
  if (typeof v.owner !== 'string' || !HEX64.test(v.owner)) return 'owner must be 64 lowercase hex characters'
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version <= 0) return 'version must be a positive safe integer'
  if (typeof v.deleted !== 'boolean') return 'deleted must be a boolean'
  if (!(v.sig instanceof Uint8Array) || v.sig.byteLength !== ROW_SIGNATURE_BYTES) return `sig must be ${ROW_SIGNATURE_BYTES} bytes`
  if (v.deleted && v.data !== null) return 'a tombstone must have data null'
  if (!v.deleted) {
    const why = dataError(v.table, v.data)
    if (why !== undefined) return why
  }
  const table = v.table as TableName
  const data = v.deleted ? null : v.data as Record<string, unknown>
  const why = subjectError(table, v.key, v.owner, data)
  if (why !== undefined) return why
  return { table, key: v.key, owner: v.owner, version: v.version, deleted: v.deleted, data, sig: new Uint8Array(v.sig) }
}

/** Why `data` does not fit `table`'s schema, or undefined when it does. */
export function dataError (table: string, data: unknown): string | undefined {
  const check = dataChecks.get(table)
  if (check === undefined) return 'unknown table'
  if (check.Check(data)) return undefined
  const first = check.Errors(data).First()
  return `data does not match the ${table} schema${first === undefined ? '' : ` at '${first.path || '/'}': ${first.message}`}`
}

/**
 * Why `owner` may not write this row, or undefined. Rows about one host are written by that host
 * only (a `hosts` row's `id` is its key as well); a signature proves who wrote a row, this rule
 * what that writer may claim.
 */
export function subjectError (table: TableName, key: string, owner: string, data: Record<string, unknown> | null): string | undefined {
  const subject = rowSubject(table, key, data)
  if (subject !== undefined && subject !== owner) return `a ${table} row about host ${subject.slice(0, 12)} can only be written by that host`
  if (table === 'hosts' && data !== null && data.id !== key) return 'a hosts row\'s id must be its key'
  return undefined
}
