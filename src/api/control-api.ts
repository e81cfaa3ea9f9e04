/** One row of `roost members`. */
export interface MemberView {
  hostId: string
  name: string
  version: string
  addresses: string[]
  state: string
  lastSeen: number
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
  /** Delivers `message` (which carries `type`) to `target` = `<host>/<actor-path>` and returns the reply. */
  send: (target: string, message: unknown, opts?: { timeoutMs?: number }) => Promise<SendResult>
  /** Stops the agent gracefully. */
  shutdown: () => Promise<void>
}

export const CONTROL_SOCKET_FILE = 'control.sock'
