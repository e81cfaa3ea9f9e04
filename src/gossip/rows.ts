import { Type, type Static } from '@sinclair/typebox'
import { AppNameSchema, MachineConfigSchema, ServiceSchema as MachineServiceSchema } from '../api/machines/schemas.js'
import { HOSTNAME_PATTERN, MAX_HOSTNAME_LENGTH } from './hostname-pattern.js'

/** The replicated tables. */
export const TABLES = ['hosts', 'machines', 'services', 'wireguard', 'routers', 'certs', 'acme'] as const
export type TableName = typeof TABLES[number]

/*
 * Every row schema is closed (`additionalProperties: false` at every object level) and every
 * string, array and map is bounded: a row is only ever what this version knows how to store,
 * forward and sign. The price is evolution: a host rejects (and logs) rows carrying a field it
 * does not know. The path for a new field is to add it as `Type.Optional` in one release and to
 * write it only once every member's hello / membership `version` is at least that release;
 * nothing more elaborate (no per-row schema version) until a change needs it.
 */
const closed = { additionalProperties: false } as const
const HostId = Type.String({ pattern: '^[0-9a-f]{64}$' })

/** `hosts`: one row per host (key = host id), written only by that host. */
export const HostRowSchema = Type.Object({
  id: HostId,
  name: Type.String({ maxLength: 128 }),
  region: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 }),
  cpusFree: Type.Number({ minimum: 0 }),
  memoryFreeMb: Type.Number({ minimum: 0 }),
  /** `roost host drain`: placement and failover put nothing new here; its machines move away. */
  draining: Type.Optional(Type.Boolean()),
  version: Type.String({ maxLength: 64 })
}, closed)

/**
 * `machines`: one row per machine, written only by the host it runs on (`host`): what routing
 * and placement read (actors/machines/record.ts `toRow`). The fields after `health` are optional
 * so a row carrying only the core stays valid.
 */
export const MachineRowSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  app: Type.String({ minLength: 1, maxLength: 128 }),
  host: HostId,
  state: Type.String({ maxLength: 32 }),
  configVersion: Type.Integer({ minimum: 0 }),
  health: Type.String({ maxLength: 32 }),
  name: Type.Optional(Type.String({ maxLength: 128 })),
  region: Type.Optional(Type.String({ maxLength: 64 })),
  image: Type.Optional(Type.String({ maxLength: 200 })),
  instanceId: Type.Optional(Type.String({ maxLength: 128 })),
  driver: Type.Optional(Type.String({ maxLength: 32 })),
  cordoned: Type.Optional(Type.Boolean()),
  /** Where the guest's first service port answers from the machine's host; null when not running. */
  endpoint: Type.Optional(Type.Union([Type.Object({ host: Type.String({ maxLength: 256 }), port: Type.Integer({ minimum: 0, maximum: 65535 }) }, closed), Type.Null()])),
  /** The machine config's services (as the Machines API takes them). */
  services: Type.Optional(Type.Array(MachineServiceSchema, { maxItems: 16 })),
  network: Type.Optional(Type.Union([Type.Literal('forward'), Type.Literal('namespace')])),
  /** Which copy this is: 1 at creation, +1 per re-creation elsewhere (failover, evacuation); the key is `<id>.g<n>` past 1. */
  generation: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  failover: Type.Optional(Type.Union([Type.Literal('replace'), Type.Literal('none')])),
  /** What a survivor needs to re-create the machine when its host dies. */
  config: Type.Optional(MachineConfigSchema),
  createdAt: Type.Optional(Type.Number()),
  updatedAt: Type.Optional(Type.Number())
}, closed)

const Port = Type.Integer({ minimum: 1, maximum: 65535 })

/** One public port of a service and what the router does with its connections. */
export const ServicePortSchema = Type.Object({
  port: Port,
  /** Applied in order: `tls` termination, then `http` (or TCP pass-through); `proxy_proto` toward the machine. */
  handlers: Type.Array(Type.Union([Type.Literal('tls'), Type.Literal('http'), Type.Literal('proxy_proto')]), { maxItems: 3, uniqueItems: true }),
  forceHttps: Type.Boolean(),
  /** PROXY protocol version sent to the machine (only meaningful with `proxy_proto`). */
  proxyProtoVersion: Type.Union([Type.Literal(1), Type.Literal(2)]),
  alpn: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 8 }))
}, closed)

/** One service of an app: a guest port, its public ports, limits and autostart/autostop. */
export const ServiceSpecSchema = Type.Object({
  protocol: Type.Literal('tcp'),
  internalPort: Port,
  ports: Type.Array(ServicePortSchema, { maxItems: 16 }),
  concurrency: Type.Object({
    type: Type.Union([Type.Literal('connections'), Type.Literal('requests')]),
    softLimit: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    hardLimit: Type.Integer({ minimum: 1, maximum: 1_000_000 })
  }, closed),
  autoStopMachines: Type.Union([Type.Literal('off'), Type.Literal('stop'), Type.Literal('suspend')]),
  autoStartMachines: Type.Boolean(),
  minMachinesRunning: Type.Integer({ minimum: 0, maximum: 10_000 })
}, closed)

/**
 * `services` (key = app): the app's routing spec, written by whichever host ran the deploy
 * (last writer wins). Made from roost.toml by src/app-config (toServiceRow).
 */
export const ServiceRowSchema = Type.Object({
  app: AppNameSchema,
  /** Increases by one per deploy of the app. */
  deployVersion: Type.Integer({ minimum: 0 }),
  primaryRegion: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
  /** Custom host names routed to the app besides `<app>.<cluster domain>`. */
  hostnames: Type.Array(Type.String({ minLength: 1, maxLength: MAX_HOSTNAME_LENGTH, pattern: HOSTNAME_PATTERN }), { maxItems: 32 }),
  services: Type.Array(ServiceSpecSchema, { maxItems: 16 }),
  updatedAt: Type.Number(),
  /**
   * When the app was first deployed (kept by every redeploy; absent: `updatedAt`). Where apps'
   * ports or hostnames collide, the earlier app keeps them, so a redeploy never hands its port
   * to a row the routers had rejected.
   */
  createdAt: Type.Optional(Type.Number())
}, closed)

/**
 * `routers`: one row per host (key = host id), written only by that host: where its router takes
 * backhaul connections, and the load it currently sends to each machine (any host's), so
 * routers elsewhere do not all pile onto one machine.
 */
export const RouterRowSchema = Type.Object({
  backhaul: Type.Union([Type.Object({
    address: Type.String({ maxLength: 64 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    mode: Type.Union([Type.Literal('wireguard'), Type.Literal('direct')])
  }, closed), Type.Null()]),
  loads: Type.Record(Type.String({ pattern: '^[0-9a-f]{14}$' }), Type.Integer({ minimum: 0, maximum: 1_000_000 }), { maxProperties: 4096, ...closed }),
  updatedAt: Type.Number()
}, closed)

/** `wireguard`: one row per host (key = host id), written only by that host: its tunnel end and the tunnels' health. */
export const WireguardRowSchema = Type.Object({
  publicKey: Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' }),
  address: Type.String({ maxLength: 64 }),
  salt: Type.Integer({ minimum: 0, maximum: 1024 }),
  endpoint: Type.String({ maxLength: 128 }),
  meshPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  peers: Type.Integer({ minimum: 0 }),
  up: Type.Integer({ minimum: 0 }),
  rxBytes: Type.Number({ minimum: 0 }),
  txBytes: Type.Number({ minimum: 0 }),
  restarts: Type.Integer({ minimum: 0 }),
  updatedAt: Type.Number()
}, closed)

/** Bound of a `certs` row's PEM chain and of its sealed key. */
export const MAX_CERT_PEM_BYTES = 16 * 1024

/**
 * `certs`: one row per hostname (key = hostname, `demo.example.com` or `*.example.com`), owned by
 * the host that added it. The key is sealed under the cluster's certKey (src/proxy/tls/seal.ts),
 * so no replica holds a private key in the clear.
 */
export const CertRowSchema = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: MAX_HOSTNAME_LENGTH, pattern: HOSTNAME_PATTERN }),
  app: Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()]),
  /** The leaf first, then any intermediates. */
  certPem: Type.String({ minLength: 1, maxLength: MAX_CERT_PEM_BYTES }),
  /** `v1.` + base64 of the AES-256-GCM sealed PKCS8 PEM. */
  keySealed: Type.String({ minLength: 1, maxLength: MAX_CERT_PEM_BYTES }),
  notAfter: Type.Number(),
  source: Type.Union([Type.Literal('ca'), Type.Literal('user'), Type.Literal('acme')]),
  updatedAt: Type.Number(),
  /** ACME certificates: the directory that issued it (renewals go there); absent for the other sources. */
  acmeDirectory: Type.Optional(Type.String({ minLength: 1, maxLength: 512 }))
}, closed)

/** An HTTP-01 token: base64url, as RFC 8555 §8.3 makes them (at least 128 bits of entropy). */
export const ACME_TOKEN_PATTERN = '^[A-Za-z0-9_-]{16,128}$'

/**
 * `acme` rows keyed `challenge/<token>`: a pending HTTP-01 challenge, which every router answers
 * on its ACME port (the name may resolve to any host). Written by the host running the order,
 * deleted when it ends; `expiresAt` bounds a row left behind by a host that died meanwhile.
 */
export const AcmeChallengeRowSchema = Type.Object({
  kind: Type.Literal('challenge'),
  token: Type.String({ pattern: ACME_TOKEN_PATTERN }),
  /** `<token>.<account key thumbprint>`: the body of the answer. */
  keyAuthorization: Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9_.-]+$' }),
  hostname: Type.String({ minLength: 1, maxLength: MAX_HOSTNAME_LENGTH, pattern: HOSTNAME_PATTERN }),
  expiresAt: Type.Number()
}, closed)

/**
 * `acme` rows keyed `account/<sha256 of the directory URL, 32 hex>`: the cluster's account with
 * one ACME directory. One per cluster (not per host): every host renews with it, and rate limits
 * and the contact email are the cluster's. The key is sealed like certificate keys.
 */
export const AcmeAccountRowSchema = Type.Object({
  kind: Type.Literal('account'),
  directory: Type.String({ minLength: 1, maxLength: 512 }),
  keySealed: Type.String({ minLength: 1, maxLength: 8 * 1024 }),
  email: Type.Union([Type.String({ minLength: 3, maxLength: 254 }), Type.Null()]),
  updatedAt: Type.Number()
}, closed)

/** `acme`: challenges and accounts (see each schema). */
export const AcmeRowSchema = Type.Union([AcmeChallengeRowSchema, AcmeAccountRowSchema])

export type HostRowData = Static<typeof HostRowSchema>
export type WireguardRowData = Static<typeof WireguardRowSchema>
export type MachineRowData = Static<typeof MachineRowSchema>
export type ServiceRowData = Static<typeof ServiceRowSchema>
export type RouterRowData = Static<typeof RouterRowSchema>
export type ServiceSpec = Static<typeof ServiceSpecSchema>
export type ServicePort = Static<typeof ServicePortSchema>
export type CertRowData = Static<typeof CertRowSchema>
export type AcmeChallengeRowData = Static<typeof AcmeChallengeRowSchema>
export type AcmeAccountRowData = Static<typeof AcmeAccountRowSchema>
export type AcmeRowData = Static<typeof AcmeRowSchema>

export const TABLE_SCHEMAS = {
  hosts: HostRowSchema,
  machines: MachineRowSchema,
  services: ServiceRowSchema,
  wireguard: WireguardRowSchema,
  routers: RouterRowSchema,
  certs: CertRowSchema,
  acme: AcmeRowSchema
} as const

/**
 * The host a row is about, when its table admits only that host as writer (see row-check.ts):
 * `hosts`, `routers` and `wireguard` rows are keyed by it, `machines` rows name it in `host`.
 * Undefined for tables any member may write (`services`, `certs`, `acme`: last writer wins) and for
 * `machines` tombstones, which carry no data.
 */
export function rowSubject (table: TableName, key: string, data: Record<string, unknown> | null): string | undefined {
  switch (table) {
    case 'hosts':
    case 'routers':
    case 'wireguard':
      return key
    case 'machines':
      return data === null ? undefined : data.host as string
    case 'services':
    case 'certs':
    case 'acme':
      return undefined
  }
}

/**
 * One replicated row. Only `owner` writes it, and every write makes the writer the owner (a
 * takeover of a dead host's row re-signs it as the new owner); `version` is the owner's hybrid
 * logical clock at the write (see hlc.ts), so versions order writes across owners too. Merge
 * keeps the row with the larger (version, owner); deletes are tombstones (`deleted`, `data`
 * null) kept for a bounded time. `sig` is the owner's ed25519 signature (its host id is its
 * public key) over the other fields (row-signature.ts).
 */
export interface Row {
  table: TableName
  key: string
  owner: string
  version: number
  deleted: boolean
  data: Record<string, unknown> | null
  sig: Uint8Array
}

/** A row before its owner signed it. */
export type UnsignedRow = Omit<Row, 'sig'>

/** A row as this host holds it: plus whether its owner is currently declared dead. */
export interface StoredRow extends Row {
  /** Local wall-clock ms when this host accepted the row (for tombstone expiry). */
  receivedAt: number
  ownerDead: boolean
}

/** The row as it travels between hosts: without the fields only this host keeps. */
export function toRow (r: Row): Row {
  return { table: r.table, key: r.key, owner: r.owner, version: r.version, deleted: r.deleted, data: r.data, sig: r.sig }
}

/** An ordered change, as subscribers see it. */
export interface ChangeEvent {
  /** Increases by one per event on this host. */
  seq: number
  kind: 'upsert' | 'delete' | 'owner-dead' | 'owner-alive'
  row: StoredRow
}
