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
  /** Stops the agent gracefully. */
  shutdown: () => Promise<void>
}

export const CONTROL_SOCKET_FILE = 'control.sock'
