import type { TSchema } from '@sinclair/typebox'
import { Errors, ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { Check } from '@sinclair/typebox/value'
import { keyPathFromPointer } from './key-path.js'

/** One violation of the document schema, in words a roost.toml author understands. */
export interface DocError {
  path: Array<string | number>
  message: string
}

const MAX_ERRORS = 50

function shown (value: unknown): string {
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object' && value !== null) return 'a table'
  return JSON.stringify(value) ?? String(value)
}

/** How a schema reads in a message: its description, a literal, or its type with bounds. */
function expected (schema: TSchema): string {
  if (typeof schema.description === 'string') return schema.description
  if (schema.const !== undefined) return JSON.stringify(schema.const)
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as TSchema[]).map(expected).join(' or ')
  switch (schema.type) {
    case 'integer':
    case 'number': {
      const lo = schema.minimum as number | undefined
      const hi = schema.maximum as number | undefined
      const what = schema.type === 'integer' ? 'an integer' : 'a number'
      return lo !== undefined && hi !== undefined ? `${what} from ${lo} to ${hi}` : lo !== undefined ? `${what} ≥ ${lo}` : what
    }
    case 'string': return typeof schema.pattern === 'string' ? `a string matching ${schema.pattern}` : 'a string'
    case 'boolean': return 'a boolean (true or false)'
    case 'array': return 'an array'
    case 'object': return 'a table'
    default: return 'another value'
  }
}

function kindOf (value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) return 'object'
  return typeof value
}

/**
 * A union's error, resolved: where the value is a table or an array and one variant is of that
 * kind (`[vm]` vs `[[vm]]`), that variant's own first error; otherwise what the union allows.
 */
function resolveUnion (e: ValueError): ValueError {
  const variants = (e.schema.anyOf ?? []) as TSchema[]
  const kind = kindOf(e.value)
  if (kind === 'object' || kind === 'array') {
    const i = variants.findIndex(v => v.type === kind)
    const inner = i < 0 ? undefined : e.errors[i]?.First()
    if (inner !== undefined) return inner.type === ValueErrorType.Union ? resolveUnion(inner) : inner
  }
  return e
}

function describe (e: ValueError): string {
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = e.path.slice(e.path.lastIndexOf('/') + 1).replace(/~1/g, '/').replace(/~0/g, '~')
      if (e.schema.patternProperties !== undefined) {
        return `"${key}" is not a valid name here (names match ${Object.keys(e.schema.patternProperties as object).join(' or ')})`
      }
      const allowed = Object.keys((e.schema.properties ?? {}) as object)
      return `unknown key "${key}"${allowed.length > 0 ? ` (allowed here: ${allowed.join(', ')})` : ''}`
    }
    case ValueErrorType.ObjectRequiredProperty: return `required key missing (${expected(e.schema)})`
    case ValueErrorType.ObjectMaxProperties: return `at most ${String(e.schema.maxProperties)} entries`
    case ValueErrorType.ArrayMaxItems: return e.schema.maxItems === 1 ? 'only one entry (roost has no process groups)' : `at most ${String(e.schema.maxItems)} entries`
    case ValueErrorType.Union:
    case ValueErrorType.Literal:
    case ValueErrorType.Integer:
    case ValueErrorType.Number:
    case ValueErrorType.String:
    case ValueErrorType.Boolean:
    case ValueErrorType.Array:
    case ValueErrorType.Object:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.StringPattern:
      return `must be ${expected(e.schema)}, not ${shown(e.value)}`
    default: return `${e.message.charAt(0).toLowerCase()}${e.message.slice(1)} (got ${shown(e.value)})`
  }
}

/** The document's violations of `schema` (at most 50), as key paths and messages. */
export function documentErrors (schema: TSchema, document: unknown): DocError[] {
  if (Check(schema, document)) return []
  const out: DocError[] = []
  const seen = new Set<string>()
  for (const raw of Errors(schema, document)) {
    const e = raw.type === ValueErrorType.Union ? resolveUnion(raw) : raw
    // A missing key also fails its own type check: one error per key is enough.
    if (seen.has(e.path)) continue
    seen.add(e.path)
    out.push({ path: keyPathFromPointer(e.path, document), message: describe(e) })
    if (out.length >= MAX_ERRORS) break
  }
  return out
}
