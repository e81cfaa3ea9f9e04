import test from 'ava'
import { createHandlers } from '../../../src/api/machines/handlers.js'
import { buildOpenApiDocument } from '../../../src/api/machines/openapi.js'
import { createRouter } from '../../../src/api/machines/router.js'
import { API_SCHEMAS, fillPath, pathParamNames, ROUTES } from '../../../src/api/machines/routes.js'
import { createFakeBackend, startApi } from './fake-backend.js'

const SAMPLE: Record<string, string> = { app: 'demo', id: 'aaaaaaaaaaaaaa', key: 'k' }

function refs (value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refs(v, out)
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v)
      else refs(v, out)
    }
  }
  return out
}

test('every route the router knows is in the OpenAPI document, with its parameters, body and responses', t => {
  const doc = buildOpenApiDocument({ version: '1.2.3' })
  const router = createRouter(ROUTES)
  t.is(doc.openapi, '3.1.0')
  t.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: 'the token in <data dir>/api.token' })
  t.deepEqual(doc.security, [{ bearer: [] }])
  const ops = new Set<string>()
  for (const route of ROUTES) {
    t.false(ops.has(route.op), `operationId ${route.op} is unique`)
    ops.add(route.op)
    const match = router.match(route.method, fillPath(route.path, SAMPLE))
    t.is(match.kind, 'found', `${route.method} ${route.path} routes`)
    if (match.kind === 'found') t.is(match.route.op, route.op)

    const op = doc.paths[route.path]?.[route.method.toLowerCase()] as {
      operationId: string
      parameters: Array<{ name: string, in: string, required: boolean }>
      requestBody?: { content: Record<string, unknown> }
      responses: Record<string, unknown>
    } | undefined
    if (op === undefined) {
      t.fail(`${route.method} ${route.path} is missing from the document`)
      continue
    }
    t.is(op.operationId, route.op)
    t.deepEqual(op.parameters.filter(p => p.in === 'path').map(p => p.name), pathParamNames(route.path))
    t.true(op.parameters.filter(p => p.in === 'path').every(p => p.required))
    t.deepEqual(op.parameters.filter(p => p.in === 'query').map(p => p.name), Object.keys(route.query ?? {}))
    t.is(op.requestBody !== undefined, route.body !== undefined, `${route.op} body`)
    for (const status of ['200', '400', '401', '500', ...route.errors.map(String)]) t.truthy(op.responses[status], `${route.op} answers ${status}`)
  }
  const documented = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0)
  t.is(documented, ROUTES.length, 'nothing in the document that the router does not serve')
  for (const r of refs(doc)) {
    const name = r.replace('#/components/schemas/', '')
    t.true(name in doc.components.schemas, `${r} resolves`)
  }
  t.deepEqual(Object.keys(doc.components.schemas).sort(), Object.keys(API_SCHEMAS).sort())
  t.false(JSON.stringify(doc).includes('Symbol'), 'plain JSON')
})

test('every route has a handler', t => {
  const handlers = createHandlers(createFakeBackend(), () => ({}))
  t.deepEqual(Object.keys(handlers).sort(), ROUTES.map(r => r.op).sort())
})

test('the server serves the same document', async t => {
  const { client } = await startApi(t)
  const served = await client.openapi()
  const built = buildOpenApiDocument({ version: '0.0.0' })
  t.deepEqual(served, JSON.parse(JSON.stringify(built)) as Record<string, unknown>)
})
