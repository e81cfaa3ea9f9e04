import type { CapacityLedger } from '../../src/placement/capacity.js'
import type { Clock } from '../../src/runtime/clock.js'
import type { EventRecorder } from '../../src/events/event-kinds.js'
import type { DriverKind, VmDriver } from '../../src/vmm/driver.js'
import type { ImageManifest } from '../../src/vmm/image/manifest.js'
import type { MachineStore } from '../../src/vmm/machine-store.js'
import type { LaunchRecorder } from '../../src/metrics/machine-metrics.js'

/** Finds an image in this host's store by digest, digest prefix or name. */
export interface ImageResolver {
  resolve: (ref: string) => Promise<{ manifest: ImageManifest, dir: string }>
}

/** One health check as the checker runs it. */
export interface CheckSpec {
  type: 'tcp' | 'http'
  host: string
  port: number
  path?: string
  method?: 'GET' | 'HEAD'
  intervalMs: number
  timeoutMs: number
  gracePeriodMs: number
}

export type CheckResultFn = (name: string, result: { status: 'passing' | 'warning' | 'critical', output: string }, consecutiveFailures: number) => void

/** Starts the checks of one running machine; `stop` ends them. */
export type HealthCheckFactory = (checks: Record<string, CheckSpec>, onResult: CheckResultFn) => { stop: () => void }

/** Picks a free TCP port on 127.0.0.1 (the preferred one when it is free). */
export type PortAllocator = (preferred?: number | null) => Promise<number>

/** What the machines family needs from the host: injected so tests can swap any part. */
export interface MachineComponents {
  drivers: Partial<Record<DriverKind, VmDriver>>
  images: ImageResolver
  store: MachineStore
  ports: PortAllocator
  /** What this host's machines hold of its room; a create or update that does not fit is refused. */
  capacity: CapacityLedger
  healthChecks?: HealthCheckFactory
  /** Metrics: how long each VM boot, resume or clone took (absent: not timed). */
  launches?: LaunchRecorder
  clock?: Clock
  /** This host's event stream: every state change of every machine goes in. */
  events: EventRecorder
}
