import { Type, type Static } from '@sinclair/typebox'
import { AppNameSchema } from '../api/machines/schemas.js'
import { HOSTNAME_PATTERN, MAX_HOSTNAME_LENGTH } from './hostname-pattern.js'

/** The replicated tables. */
export const TABLES = ['hosts', 'machines', 'services', 'wireguard', 'routers', 'certs'] as const
export type TableName = typeof TABLES[number]

/** `hosts`: one row per host, owned by that host. */
export const HostRowSchema = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  name: Type.String({ maxLength: 128 }),
  region: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 }),
  cpusFree: Type.Number({ minimum: 0 }),
  memoryFreeMb: Type.Number({ minimum: 0 }),
  /** `roost host drain`: placement and failover put nothing new here; its machines move away. */
  draining: Type.Optional(Type.Boolean()),
  version: Type.String({ maxLength: 64 })
})

/** `machines`: one row per machine, owned by the host it runs on. */
export const MachineRowSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  app: Type.String({ minLength: 1, maxLength: 128 }),
  host: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  state: Type.String({ maxLength: 32 }),
  configVersion: Type.Integer({ minimum: 0 }),
  health: Type.String({ maxLength: 32 })
})

const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const closed = { additionalProperties: false } as const

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
 * `routers`: one row per host (key = host id), owned by that host: where its router takes
 * backhaul connections, and the load it currently sends to each machine (any host's), so
 * routers elsewhere do not all pile onto one machine.
 */
export const RouterRowSchema = Type.Object({
  backhaul: Type.Union([Type.Object({
    address: Type.String({ maxLength: 64 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    mode: Type.Union([Type.Literal('wireguard'), Type.Literal('direct')])
  }, { additionalProperties: false }), Type.Null()]),
  loads: Type.Record(Type.String({ pattern: '^[0-9a-f]{14}$' }), Type.Integer({ minimum: 0, maximum: 1_000_000 }), { maxProperties: 4096 }),
  updatedAt: Type.Number()
}, { additionalProperties: false })

/** `wireguard`: one row per host (key = host id), owned by that host: its tunnel end and the tunnels' health. */
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
})

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
  source: Type.Union([Type.Literal('ca'), Type.Literal('user')]),
  updatedAt: Type.Number()
}, { additionalProperties: false })

export type HostRowData = Static<typeof HostRowSchema>
export type WireguardRowData = Static<typeof WireguardRowSchema>
export type MachineRowData = Static<typeof MachineRowSchema>
export type ServiceRowData = Static<typeof ServiceRowSchema>
export type RouterRowData = Static<typeof RouterRowSchema>
export type ServiceSpec = Static<typeof ServiceSpecSchema>
export type ServicePort = Static<typeof ServicePortSchema>
export type CertRowData = Static<typeof CertRowSchema>

export const TABLE_SCHEMAS = {
  hosts: HostRowSchema,
  machines: MachineRowSchema,
  services: ServiceRowSchema,
  wireguard: WireguardRowSchema,
  routers: RouterRowSchema,
  certs: CertRowSchema
} as const

/**
 * One replicated row. Only `owner` writes it; `version` is the owner's hybrid logical clock at
 * the write (see hlc.ts), so versions order writes across owners too. Merge keeps the row with
 * the larger (version, owner); deletes are tombstones (`deleted`, `data` null) kept for a
 * bounded time.
 */
export interface Row {
  table: TableName
  key: string
  owner: string
  version: number
  deleted: boolean
  data: Record<string, unknown> | null
}

/** A row as this host holds it: plus whether its owner is currently declared dead. */
export interface StoredRow extends Row {
  /** Local wall-clock ms when this host accepted the row (for tombstone expiry). */
  receivedAt: number
  ownerDead: boolean
}

/** An ordered change, as subscribers see it. */
export interface ChangeEvent {
  /** Increases by one per event on this host. */
  seq: number
  kind: 'upsert' | 'delete' | 'owner-dead' | 'owner-alive'
  row: StoredRow
}
