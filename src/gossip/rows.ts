import { Type, type Static } from '@sinclair/typebox'
import { HOSTNAME_PATTERN, MAX_HOSTNAME_LENGTH } from '../proxy/tls/hostnames.js'

/** The replicated tables. */
export const TABLES = ['hosts', 'machines', 'services', 'wireguard', 'certs'] as const
export type TableName = typeof TABLES[number]

/** `hosts`: one row per host, owned by that host. */
export const HostRowSchema = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  name: Type.String({ maxLength: 128 }),
  region: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 }),
  cpusFree: Type.Number({ minimum: 0 }),
  memoryFreeMb: Type.Number({ minimum: 0 }),
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

/** `services`: app → ports, handlers, limits; owned by the host that last configured the app. */
export const ServiceRowSchema = Type.Object({
  app: Type.String({ minLength: 1, maxLength: 128 }),
  ports: Type.Array(Type.Object({
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    handlers: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 }),
    internalPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 }))
  }), { maxItems: 64 }),
  limits: Type.Optional(Type.Object({
    softLimit: Type.Optional(Type.Integer({ minimum: 0 })),
    hardLimit: Type.Optional(Type.Integer({ minimum: 0 }))
  }))
})

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
export type CertRowData = Static<typeof CertRowSchema>

export const TABLE_SCHEMAS = {
  hosts: HostRowSchema,
  machines: MachineRowSchema,
  services: ServiceRowSchema,
  wireguard: WireguardRowSchema,
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
