import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { AppNameSchema, CheckSchema, DurationSchema, MachineConfigSchema, RestartSchema, ServiceSchema } from '../api/machines/schemas.js'

// The roost.toml document, shaped like fly.toml. Every object is closed (additionalProperties:
// false): a key roost does not know is an error, never silently ignored. Where a key means what
// it means in the Machines API, the API's own schema is reused.

const closed = { additionalProperties: false } as const
const port = ServiceSchema.properties.internal_port
const guest = MachineConfigSchema.properties.guest
const envSchema = MachineConfigSchema.properties.env
/** The API's pattern for check names. */
const CHECK_NAME_PATTERN = Object.keys(MachineConfigSchema.properties.checks.patternProperties)[0] ?? '^[a-z0-9_-]{1,32}$'

/** Either a table or an array of tables holding one (`[vm]` or `[[vm]]`, as fly.toml allows both). */
function tableOrArray<T extends TSchema> (item: T, description: string) {
  return Type.Union([item, Type.Array(item, { maxItems: 1 })], { description })
}

/** fly.toml writes methods in either case ("get"); the API takes GET or HEAD. */
const MethodSchema = Type.Union(['GET', 'HEAD', 'get', 'head'].map(m => Type.Literal(m)), { description: '"GET" or "HEAD"' })

/** `auto_stop_machines`: off|stop|suspend, or fly's older booleans (true → stop, false → off). */
const AutoStopSchema = Type.Union(
  [Type.Literal('off'), Type.Literal('stop'), Type.Literal('suspend'), Type.Boolean()],
  { description: '"off", "stop", "suspend", or a boolean (true: "stop", false: "off")' }
)

/** A size like "256mb", "1gb", "512MiB", or megabytes as an integer. */
export const MEMORY_PATTERN = '^[0-9]+ ?([mMgG]([bB]|i[bB])?)?$'
const MemorySchema = Type.Union(
  [Type.Integer({ minimum: 1 }), Type.String({ pattern: MEMORY_PATTERN, maxLength: 16 })],
  { description: 'a size like "256mb" or "1gb", or megabytes as an integer' }
)

const ConcurrencySchema = Type.Object({
  type: Type.Optional(Type.Union([Type.Literal('connections'), Type.Literal('requests')], { description: '"connections" or "requests"' })),
  soft_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  hard_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 }))
}, closed)

const HandlerSchema = ServiceSchema.properties.ports.items.properties.handlers.items

const PortSchema = Type.Object({
  port,
  handlers: Type.Optional(Type.Array(HandlerSchema, { maxItems: 3 })),
  force_https: Type.Optional(Type.Boolean()),
  proxy_proto_options: Type.Optional(Type.Object({
    version: Type.Union([Type.Literal('v1'), Type.Literal('v2')], { description: '"v1" or "v2"' })
  }, closed)),
  tls_options: Type.Optional(Type.Object({
    alpn: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 8 }))
  }, closed))
}, closed)

const checkTiming = {
  interval: Type.Optional(DurationSchema),
  timeout: Type.Optional(DurationSchema),
  grace_period: Type.Optional(DurationSchema),
  restart_limit: CheckSchema.properties.restart_limit
}

/** `[[services.tcp_checks]]`: a TCP connect to the service's internal port. */
export const TcpCheckSchema = Type.Object(checkTiming, closed)

/** `[[services.http_checks]]` and `[[http_service.checks]]`: a GET of `path` on the service's internal port. */
export const HttpCheckSchema = Type.Object({
  ...checkTiming,
  path: CheckSchema.properties.path,
  method: Type.Optional(MethodSchema),
  protocol: Type.Optional(Type.Literal('http'))
}, closed)

const autoscaling = {
  auto_stop_machines: Type.Optional(AutoStopSchema),
  auto_start_machines: Type.Optional(Type.Boolean()),
  min_machines_running: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 }))
}

export const ServiceDocSchema = Type.Object({
  internal_port: port,
  protocol: ServiceSchema.properties.protocol,
  ports: Type.Optional(Type.Array(PortSchema, { maxItems: 16 })),
  concurrency: Type.Optional(ConcurrencySchema),
  ...autoscaling,
  tcp_checks: Type.Optional(Type.Array(TcpCheckSchema, { maxItems: 8 })),
  http_checks: Type.Optional(Type.Array(HttpCheckSchema, { maxItems: 8 }))
}, closed)

/** `[http_service]`: one service with ports 80 (http) and 443 (tls, http). */
export const HttpServiceDocSchema = Type.Object({
  internal_port: port,
  force_https: Type.Optional(Type.Boolean()),
  concurrency: Type.Optional(ConcurrencySchema),
  ...autoscaling,
  tls_options: PortSchema.properties.tls_options,
  checks: Type.Optional(Type.Array(HttpCheckSchema, { maxItems: 8 }))
}, closed)

/** `[checks.<name>]`: the API's CheckSchema, with fly's lower-case methods allowed. */
export const TopCheckSchema = Type.Object({ ...CheckSchema.properties, method: Type.Optional(MethodSchema) }, closed)

const VmSchema = Type.Object({
  cpus: guest.properties.cpus,
  memory: Type.Optional(MemorySchema),
  memory_mb: guest.properties.memory_mb
}, closed)

const RestartDocSchema = Type.Object({
  policy: Type.Union([...RestartSchema.properties.policy.anyOf, Type.Literal('never')], { description: '"no" (or fly\'s "never"), "always" or "on-failure"' }),
  max_retries: RestartSchema.properties.max_retries,
  /** fly.toml's name for max_retries. */
  retries: RestartSchema.properties.max_retries
}, closed)

/** A host name the app answers to besides `<app>.<cluster domain>`; `*.` for a wildcard. */
export const HOSTNAME_PATTERN = '^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$'

export const AppConfigDocSchema = Type.Object({
  app: Type.String({ pattern: AppNameSchema.pattern, description: 'a name of lower-case letters, digits and dashes (at most 63), like "my-app"' }),
  primary_region: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  failover: Type.Optional(Type.Union([Type.Literal('replace'), Type.Literal('none')], { description: '"replace" (re-create machines of a dead host on a survivor) or "none"' })),
  env: envSchema,
  build: Type.Optional(Type.Object({
    runtime: Type.Optional(Type.Literal('node', { description: '"node" (puts the host\'s node in the image)' }))
  }, closed)),
  vm: Type.Optional(tableOrArray(VmSchema, 'a [vm] table or one [[vm]]')),
  services: Type.Optional(Type.Array(ServiceDocSchema, { maxItems: 16 })),
  http_service: Type.Optional(HttpServiceDocSchema),
  checks: Type.Optional(Type.Record(Type.String({ pattern: CHECK_NAME_PATTERN }), TopCheckSchema, { maxProperties: 16, additionalProperties: false })),
  hostnames: Type.Optional(Type.Array(Type.String({ pattern: HOSTNAME_PATTERN, maxLength: 253, description: 'a lower-case DNS name like "app.example.com" or "*.example.com"' }), { maxItems: 32 })),
  restart: Type.Optional(tableOrArray(RestartDocSchema, 'a [restart] table or one [[restart]]'))
}, closed)

export type AppConfigDoc = Static<typeof AppConfigDocSchema>
export type ServiceDoc = Static<typeof ServiceDocSchema>
export type HttpServiceDoc = Static<typeof HttpServiceDocSchema>
export type PortDoc = Static<typeof PortSchema>
export type ConcurrencyDoc = Static<typeof ConcurrencySchema>
export type HttpCheckDoc = Static<typeof HttpCheckSchema>
export type TcpCheckDoc = Static<typeof TcpCheckSchema>
