import fc from 'fast-check'
import { fillPath, pathParamNames, ROUTES } from '../../../src/api/machines/routes.js'
import { machineConfig } from './envelopes.js'
import { HOSTILE_KEYS, jsonish } from './hostile-values.js'

/** One HTTP request to the Machines API. */
export interface ApiRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: Buffer | undefined
  label: string
}

const MAX_BODY = 1024 * 1024

const param = fc.oneof(
  { arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), weight: 4 },
  { arbitrary: fc.uint8Array({ minLength: 7, maxLength: 7 }).map(b => Buffer.from(b).toString('hex')), weight: 4 },
  { arbitrary: fc.constantFrom('..', '../..', '%2e%2e', '.', '', ...HOSTILE_KEYS, 'a'.repeat(5000), 'ü', '\u0000', '%00', 'a/b'), weight: 2 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 1 })

const deepJson = (n: number): string => '['.repeat(n) + ']'.repeat(n)

/** JSON bodies: near-valid creates and updates (images that do not exist), wrong shapes, deep, huge, broken. */
const body = fc.oneof(
  { arbitrary: fc.record({ config: machineConfig, skip_launch: fc.boolean(), name: fc.option(fc.string({ maxLength: 70 }), { nil: undefined }), region: fc.option(fc.string({ maxLength: 70 }), { nil: undefined }) }, { requiredKeys: ['config'] }).map(v => JSON.stringify(v)), weight: 6 },
  { arbitrary: fc.record({ config: machineConfig, extra: jsonish() }).map(v => JSON.stringify(v)), weight: 2 },
  { arbitrary: jsonish().map(v => JSON.stringify(v) ?? 'null'), weight: 3 },
  { arbitrary: fc.constantFrom(
    deepJson(3_000), deepJson(100_000), '{"__proto__":{"polluted":1},"config":{"image":"x"}}', '{"config":{"image":"x","env":{"A":"a\\u0000b"}}}',
    '{', '', 'null', '[]', '"x"', '{"value":' + JSON.stringify('v'.repeat(2000)) + '}', JSON.stringify({ config: { image: 'x'.repeat(MAX_BODY) } })), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 300 }).map(b => Buffer.from(b).toString('latin1')), weight: 1 })

/**
 * Requests over the Machines API's routes: the route's method or another, path parameters with
 * traversal and hostile names, odd query strings, hostile JSON bodies, and no, wrong or right
 * bearer tokens (mostly right, so the bodies reach validation).
 */
export function apiRequest (token: string): fc.Arbitrary<ApiRequest> {
  return fc.record({
    route: fc.constantFrom(...ROUTES),
    otherMethod: fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'GET', 'POST', 'DELETE'), weight: 1 }),
    params: fc.tuple(param, param, param),
    query: fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: fc.dictionary(fc.constantFrom('force', 'state', 'timeout', 'include_deleted', 'max_bytes', 'x', '__proto__'), fc.constantFrom('1', 'true', '-1', '', '99999999999', 'started', '%zz')).map(q => Object.entries(q).map(([k, v]) => `${k}=${v}`).join('&')), weight: 1 }),
    auth: fc.oneof({ arbitrary: fc.constant(`Bearer ${token}`), weight: 8 }, { arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer wrong', `Basic ${token}`, `Bearer ${token} x`), weight: 1 }),
    contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', undefined),
    body: fc.option(body, { nil: undefined, freq: 4 })
  }).map(r => {
    const names = pathParamNames(r.route.path)
    const path = fillPath(r.route.path, Object.fromEntries(names.map((n, i) => [n, r.params[i] ?? ''])))
    // waitMachine holds the request until its timeout: keep that short, a fuzz case is not a long poll.
    const query = r.route.op === 'waitMachine' ? 'timeout=1' : r.query
    const headers: Record<string, string> = {}
    if (r.auth !== undefined) headers.authorization = r.auth
    if (r.contentType !== undefined) headers['content-type'] = r.contentType
    const bytes = r.body === undefined ? undefined : Buffer.from(r.body, 'utf8')
    return { method: r.otherMethod ?? r.route.method, path: query === '' ? path : `${path}?${query}`, headers, body: bytes, label: r.route.op }
  })
}
