import type { TSchema } from '@sinclair/typebox'
import { API_SCHEMAS, PATH_PARAMS, ROUTES, pathParamNames, type RouteSpec } from './routes.js'

/** An OpenAPI 3.1 document, as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & {
  openapi: string
  paths: Record<string, Record<string, Record<string, unknown>>>
  components: { schemas: Record<string, unknown>, securitySchemes: Record<string, unknown> }
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Invalid request (path, query or body)',
  401: 'Missing or wrong bearer token',
  404: 'No such machine, or no such route',
  405: 'Method not allowed on this path',
  408: 'The machine did not reach the state in time',
  409: 'Illegal transition from the machine\'s current state',
  413: 'Request body too large',
  500: 'Internal error',
  503: 'The host running the machine is unreachable'
}
const COMMON_ERRORS = [400, 401, 500]

/** TypeBox schemas are JSON Schema; JSON round-tripping drops TypeBox's symbol keys. */
const plain = (schema: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>
const ref = (name: string): Record<string, unknown> => ({ $ref: `#/components/schemas/${name}` })

function jsonContent (schema: Record<string, unknown>): Record<string, unknown> {
  return { 'application/json': { schema } }
}

function operation (route: RouteSpec): Record<string, unknown> {
  const parameters: unknown[] = pathParamNames(route.path).map(name => {
    const spec = PATH_PARAMS[name]
    if (spec === undefined) throw new Error(`route ${route.op}: no schema for path parameter ${name}`)
    return { name, in: 'path', required: true, description: spec.description, schema: plain(spec.schema) }
  })
  for (const [name, q] of Object.entries(route.query ?? {})) {
    parameters.push({ name, in: 'query', required: false, description: q.description, schema: plain(q.schema) })
  }
  const responses: Record<string, unknown> = {
    200: route.response === 'text'
      ? { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } }
      : { description: 'OK', content: jsonContent(route.response.array === true ? { type: 'array', items: ref(route.response.schema) } : ref(route.response.schema)) }
  }
  for (const status of [...new Set([...COMMON_ERRORS, ...route.errors])].sort((a, b) => a - b)) {
    responses[status] = { description: STATUS_TEXT[status] ?? 'Error', content: jsonContent(ref('Error')) }
  }
  const op: Record<string, unknown> = {
    operationId: route.op,
    summary: route.summary,
    parameters,
    responses
  }
  if (route.body !== undefined) op.requestBody = { required: route.body.required, content: jsonContent(ref(route.body.schema)) }
  return op
}

/** The OpenAPI 3.1 document of the Machines API, built from the route table and its TypeBox schemas. */
export function buildOpenApiDocument (opts: { version: string, routes?: readonly RouteSpec[] }): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {}
  for (const route of opts.routes ?? ROUTES) {
    const item = paths[route.path] ?? (paths[route.path] = {})
    item[route.method.toLowerCase()] = operation(route)
  }
  const schemas: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(API_SCHEMAS)) schemas[name] = plain(schema)
  return {
    openapi: '3.1.0',
    info: {
      title: 'roost Machines API',
      version: opts.version,
      description: 'Create and run machines (microVMs) on a roost cluster; the shape of the Fly Machines API.'
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token in <data dir>/api.token' } }
    }
  }
}
