import { join, resolve } from 'node:path'

/** One row of `roost members`. */
export interface MemberView {
  hostId: string
  name: string
  version: string
  region: string
  addresses: string[]
  /** alive, suspect, dead or left. */
  state: string
  self: boolean
  incarnation: number
  rttMs: number | null
  changedAt: number
  /** How actor messages to this host travel: `wireguard` (through the tunnel), `hyperswarm` (stream), `self`. */
  path: string
}

/** One peer row of `roost mesh`. */
export interface MeshPeerRow {
  hostId: string
  name: string
  publicKey: string
  address: string
  endpoint: string | null
  latestHandshake: number
  rxBytes: number
  txBytes: number
  path: string
}

/** What `roost mesh` prints: this host's tunnel end and its peers. */
export interface MeshView {
  mode: string
  reason: string | null
  ifname: string | null
  publicKey: string | null
  address: string | null
  prefix: string
  listenPort: number | null
  meshPort: number | null
  endpoint: string | null
  pid: number | null
  restarts: number
  collisions: number
  peers: MeshPeerRow[]
  stats: { framesOut: Record<string, number>, framesIn: Record<string, number>, switches: number, resent: number }
}

/** One milestone of the agent's start: `event` first reached count `n` at `at` (epoch ms). */
export interface MilestoneView {
  event: string
  n: number
  at: number
}

/** One row of `roost state <table>`. */
export interface RowView {
  table: string
  key: string
  owner: string
  version: number
  deleted: boolean
  ownerDead: boolean
  data: Record<string, unknown> | null
}

/** What `roost send` prints. */
export interface SendResult {
  host: string
  path: string
  type: string
  reply: unknown
  elapsedMs: number
}

/**
 * What the local agent offers the CLI over its control socket (comlink RPC over msgpack
 * frames on a unix socket). Every method may reject with a typed roost error.
 */
export interface ControlApi {
  info: () => Promise<Record<string, unknown>>
  members: () => Promise<MemberView[]>
  /** The local replica of one table (`hosts`, `machines`, `services`). */
  state: (table: string, opts?: { includeDeleted?: boolean }) => Promise<RowView[]>
  /** Delivers `message` (which carries `type`) to `target` = `<host>/<actor-path>` and returns the reply. */
  send: (target: string, message: unknown, opts?: { timeoutMs?: number }) => Promise<SendResult>
  /** This host's WireGuard end, its peers, and which path messages take. */
  mesh: () => Promise<MeshView>
  /** When this agent first got where on its way up (process start, DHT, streams, tunnels, mesh connections), in time order. */
  timeline: () => Promise<MilestoneView[]>
  /** Stops the agent gracefully. */
  shutdown: () => Promise<void>
}

export const CONTROL_SOCKET_FILE = 'control.sock'

/** Where the agent with this data dir serves its {@link ControlApi}. */
export function controlSocketPath (dataDir: string): string {
  return join(resolve(dataDir), CONTROL_SOCKET_FILE)
}
