import type { MachineConfig } from '../api/machines/schemas.js'
import type { ServiceSpec } from '../gossip/rows.js'

/**
 * An app as its roost.toml describes it, checked and with defaults filled in: what
 * `roost deploy` publishes (toServiceRow) and runs (toMachineConfig).
 */
export interface AppSpec {
  app: string
  primaryRegion: string | null
  env: Record<string, string>
  vm: { cpus?: number, memoryMb?: number }
  build: { runtime?: 'node' }
  /** Custom host names routed to the app besides `<app>.<cluster domain>`. */
  hostnames: string[]
  /** `[http_service]` first (when present), then `[[services]]` in file order. */
  services: ServiceSpec[]
  /** `[checks.<name>]` and the services' tcp/http checks (named `svc<i>-tcp<j>`, `svc<i>-http<j>`). */
  checks: NonNullable<MachineConfig['checks']>
  restart?: NonNullable<MachineConfig['restart']>
  /** When a host dies (default: replace for restart policy always, else none). */
  failover?: 'replace' | 'none'
}

/** Fly's defaults for `[services.concurrency]`. */
export const DEFAULT_CONCURRENCY = { type: 'connections', softLimit: 20, hardLimit: 25 } as const

/**
 * `auto_stop_machines` when absent: Fly stops idle machines of new apps by default; roost keeps
 * them running unless asked.
 */
export const DEFAULT_AUTO_STOP = 'off'
export const DEFAULT_AUTO_START = true
export const DEFAULT_MIN_MACHINES_RUNNING = 0
/** `[http_service]`'s public ports. */
export const HTTP_SERVICE_PORTS = { http: 80, https: 443 } as const
