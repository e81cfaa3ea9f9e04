import { failoverPolicyOf } from '../../src/placement/failover-plan.js'
import { FIRST_GENERATION, machineRowKey } from '../../src/placement/machine-rows.js'
import type { CheckStatus, MachineConfig, MachineEvent, MachineState, MachineView } from '../../src/api/machines/schemas.js'
import type { DriverKind, RuntimeRecord } from '../../src/vmm/driver.js'

/** A machine as its host keeps it (persisted in the machine store on every change). */
export interface MachineRecord {
  id: string
  app: string
  name: string
  region: string
  host: string
  createdAt: number
  updatedAt: number
  /** Config version, +1 on every update. */
  version: number
  /** 1 at creation, +1 for each re-creation by failover (absent in records from before generations: 1). */
  generation?: number
  /** Identifies one config version (Fly's instance_id). */
  instanceId: string
  config: MachineConfig
  state: MachineState
  cordoned: boolean
  /** Consecutive restarts by policy since the last user start (on-failure counts these). */
  restarts: number
  events: MachineEvent[]
  driver: DriverKind
  /** The host port the guest port is forwarded to (forward networking), kept across restarts. */
  hostPort: number | null
  runtime: RuntimeRecord | null
  /** A complete suspend snapshot, while suspended. */
  snapshot: string | null
  checks: Record<string, CheckStatus>
}

export const MAX_EVENTS = 30
export const DEFAULT_GUEST_PORT = 8080
export const DEFAULT_MEMORY_MB = 128

export function guestPortOf (config: MachineConfig): number {
  return config.services?.[0]?.internal_port ?? DEFAULT_GUEST_PORT
}

/** passing / warning / critical over all checks; `none` without checks. */
export function healthOf (rec: MachineRecord): string {
  const statuses = Object.values(rec.checks).map(c => c.status)
  if (Object.keys(rec.config.checks ?? {}).length === 0) return 'none'
  if (statuses.includes('critical')) return 'critical'
  if (statuses.length < Object.keys(rec.config.checks ?? {}).length || statuses.includes('warning')) return 'warning'
  return 'passing'
}

/** How the machine's VM was started, from what its driver recorded (`extra.boot`, `extra.snapshot`). */
export function bootOf (rec: MachineRecord): NonNullable<MachineView['boot']> | null {
  const extra = rec.runtime?.extra
  const mode = extra?.boot
  if (mode !== 'cold' && mode !== 'resume' && mode !== 'clone') return null
  return { mode, ...(typeof extra?.snapshot === 'string' ? { snapshot: extra.snapshot } : {}) }
}

export function toView (rec: MachineRecord): MachineView {
  const running = rec.state === 'started' && rec.runtime !== null
  return {
    id: rec.id,
    name: rec.name,
    app: rec.app,
    state: rec.state,
    region: rec.region,
    host: rec.host,
    instance_id: rec.instanceId,
    version: rec.version,
    driver: rec.driver,
    config: rec.config,
    endpoint: running && rec.runtime !== null ? { ...rec.runtime.endpoint } : null,
    cordoned: rec.cordoned,
    boot: running ? bootOf(rec) : null,
    restarts: rec.restarts,
    generation: rec.generation ?? FIRST_GENERATION,
    checks: Object.values(rec.checks),
    events: rec.events,
    created_at: new Date(rec.createdAt).toISOString(),
    updated_at: new Date(rec.updatedAt).toISOString()
  }
}

/** The `machines` row this host gossips for a machine (what routing and placement read). */
export function toRow (rec: MachineRecord): Record<string, unknown> {
  const view = toView(rec)
  return {
    id: rec.id,
    app: rec.app,
    host: rec.host,
    state: rec.state,
    configVersion: rec.version,
    health: healthOf(rec),
    name: rec.name,
    region: rec.region,
    image: rec.config.image,
    instanceId: rec.instanceId,
    driver: rec.driver,
    cordoned: rec.cordoned,
    endpoint: view.endpoint,
    services: rec.config.services ?? [],
    network: rec.config.network ?? 'forward',
    generation: rec.generation ?? FIRST_GENERATION,
    failover: failoverPolicyOf(rec.config),
    /** What a survivor needs to re-create the machine when its host dies. */
    config: rec.config,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt
  }
}

/** The replica key of the machine's row (one per generation). */
export function rowKeyOf (rec: Pick<MachineRecord, 'id' | 'generation'>): string {
  return machineRowKey(rec.id, rec.generation ?? FIRST_GENERATION)
}

/** A best-effort view from a gossiped row, for machines whose host does not answer. */
export function viewFromRow (data: Record<string, unknown>, ownerDead: boolean): MachineView {
  const str = (k: string, d = ''): string => typeof data[k] === 'string' ? data[k] as string : d
  const updated = typeof data.updatedAt === 'number' ? new Date(data.updatedAt).toISOString() : new Date(0).toISOString()
  const created = typeof data.createdAt === 'number' ? new Date(data.createdAt).toISOString() : updated
  return {
    id: str('id'),
    name: str('name', str('id')),
    app: str('app'),
    state: str('state', 'created') as MachineState,
    region: str('region'),
    host: str('host'),
    instance_id: str('instanceId'),
    version: typeof data.configVersion === 'number' ? data.configVersion : 0,
    driver: str('driver'),
    config: { image: str('image', 'unknown') },
    endpoint: null,
    cordoned: data.cordoned === true,
    restarts: 0,
    generation: typeof data.generation === 'number' ? data.generation : FIRST_GENERATION,
    checks: [],
    events: ownerDead ? [{ type: 'host', status: 'unreachable', source: 'gossip', timestamp: Date.now(), message: 'the machine\'s host is declared dead; state is its last gossiped one' }] : [],
    created_at: created,
    updated_at: updated
  }
}
