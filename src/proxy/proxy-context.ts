import type { Logger } from '../log/logger.js'
import type { RouterCounters, RouterHandler } from './router-counters.js'
import type { LoadTracker } from './load-tracker.js'
import type { RouterErrors } from './router-errors.js'
import type { RouteTable } from './route-table.js'
import type { Connector } from './upstream.js'
import type { UpstreamPool } from './upstream-pool.js'
import type { Waiters } from './waiters.js'

/** The data plane's limits and timeouts (all overridable per agent). */
export interface ProxyLimits {
  maxHeadBytes: number
  maxHeaders: number
  /** A request head must arrive completely within this time once its first byte did (slowloris). */
  headTimeoutMs: number
  /** A keep-alive client connection with no request in progress is closed after this. */
  idleTimeoutMs: number
  /** A machine must start answering within this (else PR14). */
  responseTimeoutMs: number
  connectTimeoutMs: number
  /** Machines tried per request or connection before PR04. */
  connectAttempts: number
  /** How long a request waits for a machine under its hard limit (then PR03). */
  queueTimeoutMs: number
  /** How long a request waits for an autostarted machine (then PR05). */
  autostartTimeoutMs: number
  /** Request bodies up to this size are kept so a replay can resend them. */
  replayBodyBytes: number
  maxReplayHops: number
  maxIdleUpstreamsPerMachine: number
  upstreamIdleTimeoutMs: number
  /** Router errors of one app and code are reported at most once in this window (then with their count). */
  routerErrorWindowMs: number
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  maxHeadBytes: 32 * 1024,
  maxHeaders: 100,
  headTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  responseTimeoutMs: 60_000,
  connectTimeoutMs: 3_000,
  connectAttempts: 3,
  queueTimeoutMs: 2_000,
  autostartTimeoutMs: 60_000,
  replayBodyBytes: 1024 * 1024,
  maxReplayHops: 3,
  maxIdleUpstreamsPerMachine: 128,
  upstreamIdleTimeoutMs: 30_000,
  routerErrorWindowMs: 10_000
}

/** Why the data plane asks the router actor to start a machine. */
export type AutostartReason = 'no-started-machine' | 'all-over-soft-limit'

/** A client connection as the data plane drives it from outside. */
export interface ProxiedConnection {
  /** Checks its timeouts. */
  sweep: (now: number) => void
  /** The hosts of these (remote) machines are no longer alive: nothing sent there may ever be answered. */
  hostLost: (machines: ReadonlySet<string>) => void
  destroy: () => void
}

/** What every proxied connection shares: the current routes, counters, connections out, limits. */
export interface ProxyContext {
  table: RouteTable
  readonly limits: ProxyLimits
  readonly loads: LoadTracker
  /** Router errors per app and code, handed to the agent in batches (its event stream). */
  readonly routerErrors: RouterErrors
  readonly connector: Connector
  readonly pool: UpstreamPool
  readonly waiters: Waiters
  readonly log: Logger
  now: () => number
  nextRequestId: () => string
  requestAutostart: (app: string, service: number, reason: AutostartReason) => void
  /**
   * A machine's load as candidates are ranked: this router's count, or "full" for a short while
   * after the machine's own host refused it for being at its hard limit (that host counts every
   * router's traffic to it; this router sees only its own and the others' reports).
   */
  loadOf: (machine: string) => number
  /** Marks a machine as at its hard limit (refused by its host) for a moment. */
  saturate: (machine: string) => void
  /** Counts one answer for the app (`roost routes`) and for metrics; `startedAt` is a performance.now() time. */
  answered: (app: string, handler: RouterHandler, result: string, startedAt: number) => void
  /** Metrics of this data plane (read by the main thread on scrape). */
  readonly counters: RouterCounters
  /** Backhauled requests this host refused (machine full, gone or not connectable). */
  hostedRefusals: { count: number }
  /** Upgraded (WebSocket) connections per machine, closed when the machine is cordoned or stops. */
  tunnels: Map<string, Set<{ closeTunnel: (why: string) => void }>>
  /** Open client connections (for the sweeper's timeouts, for hosts that stop being alive, and for stop). */
  connections: Set<ProxiedConnection>
}
