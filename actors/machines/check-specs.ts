import { durationMs, type MachineConfig } from '../../src/api/machines/schemas.js'
import type { Endpoint } from '../../src/vmm/driver.js'
import type { CheckSpec } from './components.js'

/** Fly's defaults where a check leaves them out. */
export const CHECK_DEFAULTS = { intervalMs: 15_000, timeoutMs: 2_000, gracePeriodMs: 5_000 }

/** A machine's configured checks, aimed at where its guest port answers from this host. */
export function checkSpecs (config: MachineConfig, endpoint: Endpoint): Record<string, CheckSpec> {
  return Object.fromEntries(Object.entries(config.checks ?? {}).map(([name, c]) => [name, {
    type: c.type,
    host: endpoint.host,
    port: endpoint.port,
    ...(c.path === undefined ? {} : { path: c.path }),
    ...(c.method === undefined ? {} : { method: c.method }),
    intervalMs: durationMs(c.interval, CHECK_DEFAULTS.intervalMs),
    timeoutMs: durationMs(c.timeout, CHECK_DEFAULTS.timeoutMs),
    gracePeriodMs: durationMs(c.grace_period, CHECK_DEFAULTS.gracePeriodMs)
  }]))
}
