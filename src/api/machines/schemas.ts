import { Type, type Static } from '@sinclair/typebox'

/** Machine states, as Fly Machines users know them. */
export const MACHINE_STATES = [
  'created', 'starting', 'started', 'stopping', 'stopped', 'suspending', 'suspended',
  'destroying', 'destroyed', 'failed', 'replacing'
] as const
export type MachineState = typeof MACHINE_STATES[number]

/** A duration: integer milliseconds or a string like "500ms", "10s", "2m". */
export const DurationSchema = Type.Union([
  Type.Integer({ minimum: 0, maximum: 86_400_000 }),
  Type.String({ pattern: '^[0-9]+(ms|s|m|h)$', maxLength: 16 })
])

export const AppNameSchema = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })
export const MachineIdSchema = Type.String({ pattern: '^[0-9a-f]{14}$' })

export const CheckSchema = Type.Object({
  type: Type.Union([Type.Literal('tcp'), Type.Literal('http')]),
  /** Guest port to check (defaults to the first service's internal_port). */
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  interval: Type.Optional(DurationSchema),
  timeout: Type.Optional(DurationSchema),
  grace_period: Type.Optional(DurationSchema),
  /** http: path and method; a 2xx/3xx status passes. */
  path: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024 })),
  method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('HEAD')])),
  /** Restart the machine after this many consecutive failures (0 or absent: never). */
  restart_limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 }))
}, { additionalProperties: false })

export const ServiceSchema = Type.Object({
  protocol: Type.Optional(Type.Literal('tcp')),
  internal_port: Type.Integer({ minimum: 1, maximum: 65535 }),
  ports: Type.Optional(Type.Array(Type.Object({
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    handlers: Type.Optional(Type.Array(Type.Union([Type.Literal('http'), Type.Literal('tls'), Type.Literal('proxy_proto')]), { maxItems: 4 }))
  }, { additionalProperties: false }), { maxItems: 16 }))
}, { additionalProperties: false })

export const RestartSchema = Type.Object({
  policy: Type.Union([Type.Literal('no'), Type.Literal('always'), Type.Literal('on-failure')]),
  /** on-failure: restarts before the machine is left failed (default 10). */
  max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 }))
}, { additionalProperties: false })

/** An environment value: up to 4 KiB, without a NUL byte. */
export const EnvValueSchema = Type.String({ maxLength: 4096, pattern: '^[^\\u0000]*$', description: 'a string of at most 4096 characters without a NUL byte' })

/** A machine's configuration; every update makes a new version (instance_id). */
export const MachineConfigSchema = Type.Object({
  /** An image digest (64 hex, optionally `sha256:`-prefixed, or a unique prefix of ≥ 12) or an image name. */
  image: Type.String({ minLength: 1, maxLength: 200 }),
  /** Values may hold anything a process environment can: no NUL byte (it ends a C string, so no process or guest could be given it). */
  env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), EnvValueSchema, { maxProperties: 256, additionalProperties: false })),
  guest: Type.Optional(Type.Object({
    cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    memory_mb: Type.Optional(Type.Integer({ minimum: 64, maximum: 65536 }))
  }, { additionalProperties: false })),
  services: Type.Optional(Type.Array(ServiceSchema, { maxItems: 16 })),
  checks: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9_-]{1,32}$' }), CheckSchema, { maxProperties: 16, additionalProperties: false })),
  restart: Type.Optional(RestartSchema),
  metadata: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.String({ maxLength: 1024 }), { maxProperties: 64, additionalProperties: false })),
  /** Overrides the agent's driver for this machine. */
  driver: Type.Optional(Type.Union([Type.Literal('qemu'), Type.Literal('process')])),
  /** forward (default): guest port forwarded to a host port on 127.0.0.1; namespace: own netns (root only). */
  network: Type.Optional(Type.Union([Type.Literal('forward'), Type.Literal('namespace')])),
  /**
   * Start as a warm clone (qemu driver): restored from a snapshot of a booted template of the image
   * (made on this host on first use, then reused) and given this machine's identity before its
   * app starts, instead of a cold boot. Other drivers boot cold.
   */
  from_snapshot: Type.Optional(Type.Boolean()),
  /**
   * When the machine's host dies: `replace` re-creates it (same id, next generation) on a
   * survivor of its region; `none` leaves it. Default: replace for restart policy `always`.
   */
  failover: Type.Optional(Type.Union([Type.Literal('replace'), Type.Literal('none')]))
}, { additionalProperties: false })

export const CreateMachineSchema = Type.Object({
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
  region: Type.Optional(Type.String({ maxLength: 64 })),
  config: MachineConfigSchema,
  /** Create without starting. */
  skip_launch: Type.Optional(Type.Boolean()),
  /** Host (id, id prefix or name) to create it on; default: the host that got the request. */
  host: Type.Optional(Type.String({ maxLength: 128 }))
}, { additionalProperties: false })

export const UpdateMachineSchema = Type.Object({
  config: MachineConfigSchema,
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
  skip_launch: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const StopSchema = Type.Object({
  signal: Type.Optional(Type.Union([Type.Literal('SIGTERM'), Type.Literal('SIGINT'), Type.Literal('SIGKILL')])),
  timeout: Type.Optional(DurationSchema)
}, { additionalProperties: false })

export const MetadataValueSchema = Type.Object({ value: Type.String({ maxLength: 1024 }) }, { additionalProperties: false })

export const MachineEventSchema = Type.Object({
  type: Type.String(),
  status: Type.String(),
  source: Type.String(),
  timestamp: Type.Number(),
  exit_code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  message: Type.Optional(Type.String())
})

export const CheckStatusSchema = Type.Object({
  name: Type.String(),
  status: Type.Union([Type.Literal('passing'), Type.Literal('warning'), Type.Literal('critical')]),
  output: Type.String(),
  updated_at: Type.String()
})

/** A machine as the API shows it. */
export const MachineViewSchema = Type.Object({
  id: MachineIdSchema,
  name: Type.String(),
  app: Type.String(),
  state: Type.Union(MACHINE_STATES.map(s => Type.Literal(s))),
  region: Type.String(),
  host: Type.String(),
  instance_id: Type.String(),
  version: Type.Integer(),
  driver: Type.String(),
  config: MachineConfigSchema,
  /** Where the guest's first service port answers from the machine's host (null when not running). */
  endpoint: Type.Union([Type.Object({ host: Type.String(), port: Type.Integer() }), Type.Null()]),
  cordoned: Type.Boolean(),
  /** How the running VM was started: a cold boot, a resume from its suspend snapshot, or a warm clone (with the snapshot's key). */
  boot: Type.Optional(Type.Union([
    Type.Object({ mode: Type.Union([Type.Literal('cold'), Type.Literal('resume'), Type.Literal('clone')]), snapshot: Type.Optional(Type.String()) }),
    Type.Null()
  ])),
  restarts: Type.Integer(),
  /** Which copy of the machine this is: 1 at creation, +1 each time failover re-creates it on another host. */
  generation: Type.Optional(Type.Integer({ minimum: 1 })),
  checks: Type.Array(CheckStatusSchema),
  events: Type.Array(MachineEventSchema),
  created_at: Type.String(),
  updated_at: Type.String()
})

export type MachineConfig = Static<typeof MachineConfigSchema>
export type CreateMachineRequest = Static<typeof CreateMachineSchema>
export type UpdateMachineRequest = Static<typeof UpdateMachineSchema>
export type StopRequest = Static<typeof StopSchema>
export type MachineView = Static<typeof MachineViewSchema>
export type MachineEvent = Static<typeof MachineEventSchema>
export type CheckStatus = Static<typeof CheckStatusSchema>

export type MachineAction = 'start' | 'stop' | 'suspend' | 'restart' | 'cordon' | 'uncordon'

/** Parses a DurationSchema value to milliseconds. */
export function durationMs (d: number | string | undefined, fallback: number): number {
  if (d === undefined) return fallback
  if (typeof d === 'number') return d
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(d)
  if (m === null) return fallback
  const n = Number(m[1])
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000
}

/**
 * What the Machines HTTP API needs from the agent. Implemented in actors/ in terms of the
 * machines actors (local or, by actor message, on the host that runs the machine). Every
 * method rejects with a typed roost error (ERR_MACHINE_NOT_FOUND, ERR_ILLEGAL_TRANSITION,
 * ERR_INVALID_ARGUMENT, ERR_WAIT_TIMEOUT, ERR_IMAGE, ERR_HOST_UNREACHABLE, …).
 */
export interface MachinesBackend {
  create: (app: string, req: CreateMachineRequest) => Promise<MachineView>
  list: (app: string, opts?: { includeDestroyed?: boolean }) => Promise<MachineView[]>
  get: (app: string, id: string) => Promise<MachineView>
  update: (app: string, id: string, req: UpdateMachineRequest) => Promise<MachineView>
  action: (app: string, id: string, action: MachineAction, opts?: StopRequest) => Promise<MachineView>
  /** Resolves when the machine is in `state` (for the given instance, if any). */
  wait: (app: string, id: string, state: MachineState, timeoutMs: number, instanceId?: string) => Promise<MachineView>
  destroy: (app: string, id: string, force: boolean) => Promise<MachineView>
  setMetadata: (app: string, id: string, key: string, value: string) => Promise<Record<string, string>>
  deleteMetadata: (app: string, id: string, key: string) => Promise<Record<string, string>>
  logs: (app: string, id: string, maxBytes?: number) => Promise<string>
}
