import type { CaMaterial } from './tls/dev-ca.js'
import type { DataPlaneInit } from './data-plane.js'
import type { DataPlaneSnapshot, DataPlaneStats, ListenerState } from './data-plane-view.js'
import type { AutostartReason } from './proxy-context.js'
import type { RouteTable } from './route-table.js'
import type { RouterErrorReport } from './router-errors.js'

/** What the data-plane thread is started with (structured-clone safe). */
export interface DataPlaneWorkerData {
  init: DataPlaneInit
  certKey: Uint8Array
  ca: CaMaterial | null
  logLevel: string
  /** Fields every log line of the thread carries (e.g. the actor path). */
  logBase: Record<string, unknown>
  statsIntervalMs: number
}

/** Agent → data-plane thread. */
export type ToDataPlane =
  | { t: 'routes', table: RouteTable }
  | { t: 'backhaul', id: number, spec: { address: string, port: number, checkSource: boolean } | null }
  | { t: 'snapshot', id: number }
  /** The metrics counters, asked on scrape (never a message per request). */
  | { t: 'metrics', id: number }
  | { t: 'stop', id: number }

/** Data-plane thread → agent. */
export type FromDataPlane =
  | { t: 'ready' }
  | { t: 'reply', id: number, value?: unknown, error?: string }
  | { t: 'stats', stats: DataPlaneStats }
  | { t: 'autostart', app: string, service: number, reason: AutostartReason }
  | { t: 'listener', state: ListenerState }
  /** Router errors due for the event stream, batched on the stats tick (never one message per request). */
  | { t: 'router-errors', errors: RouterErrorReport[] }

export type { DataPlaneSnapshot, DataPlaneStats, ListenerState, RouterErrorReport }
