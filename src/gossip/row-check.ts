import type { TObject } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { TABLES, TABLE_SCHEMAS, type Row, type TableName } from './rows.js'

export const MAX_KEY_LENGTH = 256

const HEX64 = /^[0-9a-f]{64}$/
const dataChecks = new Map<string, TypeCheck<TObject>>(TABLES.map(t => [t, TypeCompiler.Compile(TABLE_SCHEMAS[t])]))

/** Checks a row from the network or a store; returns a fresh Row or the reason it is invalid. */
export function checkRow (value: unknown): Row | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object'
  const v = value as Record<string, unknown>
  if (typeof v.table !== 'string' || !dataChecks.has(v.table)) return 'unknown table'
  if (typeof v.key !== 'string' || v.key.length === 0 || v.key.length > MAX_KEY_LENGTH) return `key must be a string of 1–${MAX_KEY_LENGTH} characters`
  if (typeof v.owner !== 'string' || !HEX64.test(v.owner)) return 'owner must be 64 lowercase hex characters'
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version <= 0) return 'version must be a positive safe integer'
  if (typeof v.deleted !== 'boolean') return 'deleted must be a boolean'
  if (v.deleted && v.data !== null) return 'a tombstone must have data null'
  if (!v.deleted) {
    const why = dataError(v.table, v.data)
    if (why !== undefined) return why
  }
  return { table: v.table as TableName, key: v.key, owner: v.owner, version: v.version, deleted: v.deleted, data: v.deleted ? null : v.data as Record<string, unknown> }
}

/** Why `data` does not fit `table`'s schema, or undefined when it does. */
export function dataError (table: string, data: unknown): string | undefined {
  const check = dataChecks.get(table)
  if (check === undefined) return 'unknown table'
  if (check.Check(data)) return undefined
  const first = check.Errors(data).First()
  return `data does not match the ${table} schema${first === undefined ? '' : ` at '${first.path || '/'}': ${first.message}`}`
}

