/** One public listener as `roost routes` shows it. */
export interface ListenerState {
  port: number
  address: string
  tls: boolean
  http: boolean
  apps: string[]
  state: 'opening' | 'listening' | 'failed'
  error: string | null
}

/** A machine as the data plane sees it for one app. */
export interface MachineView {
  id: string
  host: string
  hostName: string
  region: string
  state: string
  health: string
  cordoned: boolean
  local: boolean
  /** Whether it may take new traffic now. */
  routable: boolean
  /** This router's requests or connections in flight to it. */
  inflight: number
  /** What other routers report they have in flight to it. */
  remoteInflight: number
}

export interface AppView {
  app: string
  hostnames: string[]
  ports: Array<{ port: number, service: number, internalPort: number, handlers: string[], forceHttps: boolean }>
  concurrency: { type: string, softLimit: number, hardLimit: number } | null
  machines: MachineView[]
  /** Answers by HTTP status class (`2xx`…), TCP connections (`connected`) and router result codes (`PR01`…). */
  counters: Record<string, number>
}

/** What the data plane reports for `roost routes`. */
export interface DataPlaneSnapshot {
  version: number
  listeners: ListenerState[]
  apps: AppView[]
  rejected: Array<{ table: string, key: string, reason: string }>
  backhaul: { address: { address: string, port: number } | null, accepted: number, refused: number, open: number }
  pool: { idle: number }
  waiting: number
  connections: number
  /**
   * The data plane's event loop since it started: time spent working and waiting for events
   * (ms, node's eventLoopUtilization). Two snapshots tell how busy the proxy was in between.
   */
  loop: { activeMs: number, idleMs: number }
}

/** The snapshot of a data plane that has not started (nothing to serve yet): no listener, no backhaul. */
export function idleDataPlaneSnapshot (version: number, rejected: DataPlaneSnapshot['rejected']): DataPlaneSnapshot {
  return {
    version,
    listeners: [],
    apps: [],
    rejected,
    backhaul: { address: null, accepted: 0, refused: 0, open: 0 },
    pool: { idle: 0 },
    waiting: 0,
    connections: 0,
    loop: { activeMs: 0, idleMs: 0 }
  }
}

/** The periodic figures the router actor publishes and decides autostop on. */
export interface DataPlaneStats {
  /** `inflight`: every request or connection to the machine through this host; `edge`: those this router sent (what it reports to others). */
  machines: Record<string, { inflight: number, edge: number, backhaulOpen: number, lastActivity: number, total: number }>
  connections: number
}

/** What `router.routes` answers (`roost routes`): the data plane's snapshot plus the router's own state. */
export interface RoutesView extends Omit<DataPlaneSnapshot, 'backhaul'> {
  host: string
  region: string
  domain: string
  backhaul: DataPlaneSnapshot['backhaul'] & { mode: string }
  autostop: { intervalMs: number, stopped: number, started: number }
}
