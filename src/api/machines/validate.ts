import type { TSchema } from '@sinclair/typebox'
import { Check } from '@sinclair/typebox/value'
import { Errors } from '@sinclair/typebox/errors'
import { InvalidArgumentError } from '../../errors/errors.js'
import { API_SCHEMAS, PATH_PARAMS, type ApiSchemaName, type RouteSpec } from './routes.js'

/** One schema violation, as listed in an ERR_INVALID_ARGUMENT's `details.errors`. */
export interface FieldError {
  in: 'path' | 'query' | 'body'
  path: string
  message: string
}

const MAX_LISTED_ERRORS = 20

/** TypeBox's errors for `value` (at most 20), or an empty list when it conforms. */
export function schemaErrors (schema: TSchema, value: unknown, where: FieldError['in'], prefix = ''): FieldError[] {
  if (Check(schema, value)) return []
  const out: FieldError[] = []
  for (const e of Errors(schema, value)) {
    out.push({ in: where, path: `${prefix}${e.path}`, message: e.message })
    if (out.length >= MAX_LISTED_ERRORS) break
  }
  return out
}

function reject (what: string, errors: FieldError[]): never {
  const first = errors[0]
  const hint = first === undefined ? '' : `: ${first.path === '' ? '' : `${first.path} `}${first.message}`
  throw new InvalidArgumentError(`invalid ${what}${hint}`, { errors })
}

/** Checks path parameters against their schemas (app name, machine id, metadata key). */
export function validateParams (params: Readonly<Record<string, string>>): void {
  const errors: FieldError[] = []
  for (const [name, value] of Object.entries(params)) {
    const spec = PATH_PARAMS[name]
    if (spec !== undefined) errors.push(...schemaErrors(spec.schema, value, 'path', `/${name}`))
  }
  if (errors.length > 0) reject('path parameter', errors)
}

function decodeQueryValue (schema: TSchema, raw: string): unknown {
  if (schema.type === 'boolean') {
    if (raw === 'true' || raw === '1' || raw === '') return true
    if (raw === 'false' || raw === '0') return false
    return raw
  }
  if (schema.type === 'integer' || schema.type === 'number') return /^-?[0-9]{1,15}$/.test(raw) ? Number(raw) : raw
  return raw
}

/** Decodes the route's query parameters (defaults filled in); unknown ones are ignored. */
export function decodeQuery (route: RouteSpec, search: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const errors: FieldError[] = []
  for (const [name, spec] of Object.entries(route.query ?? {})) {
    const raw = search.get(name)
    if (raw === null) {
      if (spec.schema.default !== undefined) out[name] = spec.schema.default
      continue
    }
    const value = decodeQueryValue(spec.schema, raw)
    const errs = schemaErrors(spec.schema, value, 'query', `/${name}`)
    if (errs.length > 0) errors.push(...errs)
    else out[name] = value
  }
  if (errors.length > 0) reject('query parameter', errors)
  return out
}

/** Checks a decoded JSON body against the named schema. */
export function validateBody (schema: ApiSchemaName, value: unknown): void {
  const errors = schemaErrors(API_SCHEMAS[schema], value, 'body')
  if (errors.length > 0) reject('request body', errors)
}
