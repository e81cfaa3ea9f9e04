import { Type, type TSchema } from '@sinclair/typebox'
import {
  AppNameSchema, CreateMachineSchema, MACHINE_STATES, MachineConfigSchema, MachineIdSchema, MachineViewSchema,
  MetadataValueSchema, StopSchema, UpdateMachineSchema
} from './schemas.js'

/** Every error the API answers has this body. */
export const ErrorBodySchema = Type.Object({
  error: Type.String({ description: 'what went wrong, for people' }),
  code: Type.String({ description: 'stable machine-readable code, e.g. ERR_MACHINE_NOT_FOUND' }),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})

export const HealthSchema = Type.Object({ ok: Type.Literal(true) }, { additionalProperties: false })
export const MetadataSchema = Type.Record(Type.String(), Type.String())
export const MetadataKeySchema = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })

/** The schemas the OpenAPI document lists under components.schemas, by name. */
export const API_SCHEMAS = {
  MachineView: MachineViewSchema,
  MachineConfig: MachineConfigSchema,
  CreateMachineRequest: CreateMachineSchema,
  UpdateMachineRequest: UpdateMachineSchema,
  StopRequest: StopSchema,
  MetadataValue: MetadataValueSchema,
  Metadata: MetadataSchema,
  Health: HealthSchema,
  Error: ErrorBodySchema,
  OpenApiDocument: Type.Object({ openapi: Type.String() })
} as const
export type ApiSchemaName = keyof typeof API_SCHEMAS

/** Path parameters by name; a route's template names which ones it has. */
export const PATH_PARAMS: Readonly<Record<string, { schema: TSchema, description: string }>> = {
  app: { schema: AppNameSchema, description: 'app name' },
  id: { schema: MachineIdSchema, description: 'machine id (14 hex digits)' },
  key: { schema: MetadataKeySchema, description: 'metadata key' }
}

/** A query parameter: the schema describes the decoded value (boolean, integer or string). */
export interface QueryParamSpec {
  schema: TSchema
  description: string
}

export type HttpMethod = 'GET' | 'POST' | 'DELETE'

type ActionName = 'start' | 'stop' | 'suspend' | 'restart' | 'cordon' | 'uncordon'

/** Operation ids (OpenAPI operationId); the server has one handler per id. */
export type OperationId = 'listMachines' | 'createMachine' | 'getMachine' | 'updateMachine' | `${ActionName}Machine` |
'waitMachine' | 'destroyMachine' | 'getMetadata' | 'setMetadata' | 'deleteMetadata' | 'getLogs' | 'getOpenApi' | 'health'

/** One operation of the Machines API; the server's router and the OpenAPI document both read these. */
export interface RouteSpec {
  op: OperationId
  method: HttpMethod
  /** OpenAPI path template, e.g. `/v1/apps/{app}/machines/{id}`. */
  path: string
  summary: string
  query?: Readonly<Record<string, QueryParamSpec>>
  body?: { schema: ApiSchemaName, required: boolean }
  /** JSON (a named schema, or an array of it) or a text/plain body. */
  response: { schema: ApiSchemaName, array?: boolean } | 'text'
  /** Error statuses besides the ones any route can answer (400, 401, 500). */
  errors: readonly number[]
}

const M = '/v1/apps/{app}/machines'
const MID = `${M}/{id}`
const MACHINE_ERRORS = [404, 503] as const
const ACTION_ERRORS = [404, 409, 503] as const
const view = { schema: 'MachineView' } as const

function action (name: ActionName, summary: string, extra: Partial<RouteSpec> = {}): RouteSpec {
  return { op: `${name}Machine`, method: 'POST', path: `${MID}/${name}`, summary, response: view, errors: ACTION_ERRORS, ...extra }
}

/** Every route of the Machines API (Fly Machines API shape). */
export const ROUTES: readonly RouteSpec[] = [
  { op: 'listMachines', method: 'GET', path: M, summary: 'List the machines of an app', response: { schema: 'MachineView', array: true }, errors: [503], query: {
    include_deleted: { schema: Type.Boolean({ default: false }), description: 'include destroyed machines' }
  } },
  { op: 'createMachine', method: 'POST', path: M, summary: 'Create (and by default start) a machine', body: { schema: 'CreateMachineRequest', required: true }, response: view, errors: [413, 503] },
  { op: 'getMachine', method: 'GET', path: MID, summary: 'Get a machine', response: view, errors: MACHINE_ERRORS },
  { op: 'updateMachine', method: 'POST', path: MID, summary: 'Update a machine\'s config (a new version; restarts it unless skip_launch)', body: { schema: 'UpdateMachineRequest', required: true }, response: view, errors: [404, 409, 413, 503] },
  action('start', 'Start a machine (resumes a suspended one)'),
  action('stop', 'Stop a machine', { body: { schema: 'StopRequest', required: false }, errors: [404, 409, 413, 503] }),
  action('suspend', 'Suspend a machine (snapshot to disk)'),
  action('restart', 'Restart a machine'),
  action('cordon', 'Cordon a machine (no new traffic is routed to it)'),
  action('uncordon', 'Uncordon a machine'),
  { op: 'waitMachine', method: 'GET', path: `${MID}/wait`, summary: 'Wait for a machine to reach a state', response: view, errors: [404, 408, 503], query: {
    state: { schema: Type.Union(MACHINE_STATES.map(s => Type.Literal(s)), { default: 'started' }), description: 'state to wait for' },
    timeout: { schema: Type.Integer({ minimum: 1, maximum: 300, default: 60 }), description: 'seconds to wait' },
    instance_id: { schema: Type.String({ minLength: 1, maxLength: 128 }), description: 'wait for this version of the machine' }
  } },
  { op: 'destroyMachine', method: 'DELETE', path: MID, summary: 'Destroy a machine', response: view, errors: [404, 409, 503], query: {
    force: { schema: Type.Boolean({ default: false }), description: 'destroy even when running' }
  } },
  { op: 'getMetadata', method: 'GET', path: `${MID}/metadata`, summary: 'Get a machine\'s metadata', response: { schema: 'Metadata' }, errors: MACHINE_ERRORS },
  { op: 'setMetadata', method: 'POST', path: `${MID}/metadata/{key}`, summary: 'Set a metadata key', body: { schema: 'MetadataValue', required: true }, response: { schema: 'Metadata' }, errors: [404, 413, 503] },
  { op: 'deleteMetadata', method: 'DELETE', path: `${MID}/metadata/{key}`, summary: 'Delete a metadata key', response: { schema: 'Metadata' }, errors: MACHINE_ERRORS },
  { op: 'getLogs', method: 'GET', path: `${MID}/logs`, summary: 'The tail of a machine\'s console log (text/plain)', response: 'text', errors: MACHINE_ERRORS, query: {
    max_bytes: { schema: Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024 }), description: 'at most this many bytes from the end' }
  } },
  { op: 'getOpenApi', method: 'GET', path: '/v1/openapi.json', summary: 'This API\'s OpenAPI 3.1 document', response: { schema: 'OpenApiDocument' }, errors: [] },
  { op: 'health', method: 'GET', path: '/v1/health', summary: 'Liveness of the API', response: { schema: 'Health' }, errors: [] }
]

/** The names of a path template's parameters, in order. */
export function pathParamNames (path: string): string[] {
  return [...path.matchAll(/\{([a-z_]+)\}/g)].map(m => m[1] ?? '')
}

/** Fills a path template (values are URI-encoded). */
export function fillPath (path: string, params: Readonly<Record<string, string>>): string {
  return path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? ''))
}
