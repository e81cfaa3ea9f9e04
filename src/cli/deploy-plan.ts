import type { MachineConfig, MachineView } from '../api/machines/schemas.js'

/** What a deploy does to one machine. */
export type DeployStep =
  | { action: 'unchanged', machine: MachineView }
  | { action: 'update', machine: MachineView, config: MachineConfig }
  | { action: 'create', host: string | null, region: string | null, config: MachineConfig }
  | { action: 'destroy', machine: MachineView }

export interface DeployPlanInit {
  /** The app's machines now (destroyed ones left out). */
  existing: MachineView[]
  /** The configuration roost.toml and the new image ask for. */
  config: MachineConfig
  /** How many machines the app should have. */
  count: number
  /** Host ids new machines go to, in round-robin order; empty: wherever the cluster's placement puts them. */
  hosts: string[]
  /** Regions new machines are placed in, round-robin (with placement only); empty: any. */
  regions?: string[]
}

/** Keys of a machine's config that roost.toml does not set: a deploy keeps what the machine has. */
const CARRIED = ['metadata', 'driver', 'network', 'from_snapshot'] as const

function canonical (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().filter(k => (value as Record<string, unknown>)[k] !== undefined).map(k => [k, canonical((value as Record<string, unknown>)[k])]))
  }
  return value
}

/** Whether two machine configs are the same, whatever the order of their keys. */
export function sameConfig (a: MachineConfig, b: MachineConfig): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))
}

/** `config` with what the machine's current config carries beyond roost.toml (metadata, driver, …). */
export function carryOver (config: MachineConfig, current: MachineConfig): MachineConfig {
  const out: MachineConfig = { ...config }
  for (const k of CARRIED) if (current[k] !== undefined) Object.assign(out, { [k]: current[k] })
  return out
}

/**
 * What a deploy does: keeps the `count` oldest machines (destroying the newest extras),
 * updates those whose config differs from the new one, and creates the missing ones: on
 * `hosts` round-robin, each next one on the host holding the fewest of the app's machines
 * (ties in `hosts` order), or without hosts, left to placement in `regions` round-robin.
 * Steps come in the order to run them: destroys, updates, creates.
 */
export function planDeploy (init: DeployPlanInit): DeployStep[] {
  const sorted = [...init.existing].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
  const kept = sorted.slice(0, Math.max(0, init.count))
  const steps: DeployStep[] = sorted.slice(kept.length).map(machine => ({ action: 'destroy', machine }))
  for (const machine of kept) {
    const config = carryOver(init.config, machine.config)
    steps.push(sameConfig(config, machine.config) ? { action: 'unchanged', machine } : { action: 'update', machine, config })
  }
  const missing = init.count - kept.length
  if (init.hosts.length === 0) {
    const regions = init.regions ?? []
    for (let i = 0; i < missing; i++) steps.push({ action: 'create', host: null, region: regions.length === 0 ? null : regions[i % regions.length] ?? null, config: { ...init.config } })
    return steps
  }
  const load = new Map(init.hosts.map(h => [h, kept.filter(m => m.host === h).length]))
  for (let i = 0; i < missing; i++) {
    let host = init.hosts[0] as string
    for (const h of init.hosts) if ((load.get(h) ?? 0) < (load.get(host) ?? 0)) host = h
    load.set(host, (load.get(host) ?? 0) + 1)
    steps.push({ action: 'create', host, region: null, config: { ...init.config } })
  }
  return steps
}
