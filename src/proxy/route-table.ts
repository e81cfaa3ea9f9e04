/**
 * The data plane's whole view of the cluster, compiled by the router actor from the gossiped
 * tables and posted to the data-plane thread on every change. Plain data (structured-clone safe).
 */
export interface RouteTable {
  /** Increases with every compile on this host. */
  version: number
  hostId: string
  region: string
  /** The cluster domain: every app answers as `<app>.<domain>`. */
  domain: string
  apps: Record<string, AppRoute>
  /** Every other host a machine may live on, with where its router's backhaul listens. */
  hosts: Record<string, HostRoute>
  /** One entry per public port any app publishes (after conflicts were resolved). */
  listeners: ListenerRoute[]
  /** `certs` rows, passed through to the TLS certificate store. */
  certs: CertRowLike[]
  /** Rows the compiler refused, with why (shown by `roost routes`). */
  rejected: RejectedRow[]
  /**
   * Pending ACME HTTP-01 challenges, token → key authorization: every plain-HTTP listener answers
   * `/.well-known/acme-challenge/<token>` from here before matching an app.
   */
  acmeChallenges: Record<string, string>
}

export interface CertRowLike {
  hostname: string
  app: string | null
  certPem: string
  keySealed: string
  notAfter: number
  source: string
}

export interface RejectedRow {
  table: string
  key: string
  reason: string
}

export interface AppRoute {
  app: string
  /** `<app>.<domain>` first, then the app's custom hostnames (lowercase). */
  hostnames: string[]
  primaryRegion: string | null
  services: ServiceRoute[]
  /** Every machine of the app in any state (autostart needs the stopped ones too). */
  machines: MachineRoute[]
}

export type ConcurrencyType = 'connections' | 'requests'
export type AutoStop = 'off' | 'stop' | 'suspend'

export interface ServiceRoute {
  index: number
  internalPort: number
  ports: PortRoute[]
  concurrency: { type: ConcurrencyType, softLimit: number, hardLimit: number }
  autoStart: boolean
  autoStop: AutoStop
  minMachinesRunning: number
}

export interface PortRoute {
  port: number
  tls: boolean
  http: boolean
  /** PROXY protocol version sent to the machine (0: none). */
  proxyProto: 0 | 1 | 2
  forceHttps: boolean
  alpn: string[]
}

export interface MachineRoute {
  id: string
  app: string
  host: string
  region: string
  /** On this host: reached directly at `endpoint`; otherwise through the host's backhaul. */
  local: boolean
  state: string
  /** none / passing / warning / critical, from the machine's checks. */
  health: string
  cordoned: boolean
  instanceId: string
  /** Local machines: where the guest's first service port answers (null when not running). */
  endpoint: { host: string, port: number } | null
  /** The guest port `endpoint` forwards to (services on other ports need namespace networking). */
  guestPort: number
  /** Namespace networking: the guest's address, reachable on any internal port. */
  namespaced: boolean
  /** Load other routers report for this machine (their in-flight, summed). */
  remoteInflight: number
}

export interface HostRoute {
  id: string
  name: string
  region: string
  /** alive / suspect / dead / left as this host's gossip sees it. */
  state: string
  rttMs: number | null
  /** Where its router accepts backhaul connections (null: it has not published one yet). */
  backhaul: { address: string, port: number } | null
}

/** One public port and the apps that share it. */
export interface ListenerRoute {
  port: number
  /** Every app on the port terminates TLS here (apps told apart by SNI). */
  tls: boolean
  /** Without TLS: every app on the port speaks HTTP (apps told apart by Host). */
  http: boolean
  apps: Array<{ app: string, service: number }>
}

/** Whether a machine may take new traffic at all (state, cordon, its host's liveness). */
export function isRoutable (m: MachineRoute, host: HostRoute | undefined): boolean {
  if (m.state !== 'started' || m.cordoned) return false
  if (m.health === 'critical') return false
  if (!m.local && (host === undefined || host.state !== 'alive' || host.backhaul === null)) return false
  if (m.local && m.endpoint === null) return false
  return true
}

/**
 * Whether a table gives the data plane anything to do: a public listener, or an app whose
 * machines other routers may reach through this host's backhaul. Until one does, an agent
 * need not run the data plane's thread at all.
 */
export function needsDataPlane (table: RouteTable): boolean {
  return table.listeners.length > 0 || Object.keys(table.apps).length > 0
}

export function emptyRouteTable (hostId: string, region: string, domain: string): RouteTable {
  return { version: 0, hostId, region, domain, apps: {}, hosts: {}, listeners: [], certs: [], rejected: [], acmeChallenges: {} }
}
