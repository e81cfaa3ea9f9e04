import { createRequire } from 'node:module'
import type { Counter as PromCounter, Registry } from 'prom-client'

const require = createRequire(import.meta.url)
const Counter = require('prom-client/lib/counter') as typeof PromCounter

/**
 * prom-client's default metrics, by module under `prom-client/lib/metrics/`, except two:
 * its process CPU counters, whose module loads `@opentelemetry/api` for exemplars (~0.6 MB of an
 * idle agent's heap for a feature roost does not use; {@link registerProcessCpu} registers the
 * same series), and `eventLoopLag`, registered on the first scrape ({@link DefaultMetrics}).
 */
export const DEFAULT_METRIC_MODULES: readonly string[] = Object.freeze([
  'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed',
  'heapSpacesSizeAndUsed', 'version', 'gc'
])

/** prom-client's module for `nodejs_eventloop_lag_*`. */
const LOOP_LAG_MODULE = 'eventLoopLag'

export interface DefaultMetrics {
  /**
   * To be called before each scrape: the first registers the event-loop lag series. Their
   * histogram samples the loop every 10 ms from then on (a native timer and ~0.35 MB of
   * buckets), which an agent nobody scrapes does not pay for.
   */
  beforeScrape: () => void
}

const config = { eventLoopMonitoringPrecision: 10 }
type RegisterMetric = (registry: Registry, config: object) => void

/** Node's default metrics on `registry`: prom-client's modules and {@link registerProcessCpu}. */
export function registerDefaultMetrics (registry: Registry): DefaultMetrics {
  const register = (name: string): void => { (require(`prom-client/lib/metrics/${name}`) as RegisterMetric)(registry, config) }
  registerProcessCpu(registry)
  for (const name of DEFAULT_METRIC_MODULES) register(name)
  let lag = false
  return {
    beforeScrape () {
      if (lag) return
      lag = true
      register(LOOP_LAG_MODULE)
    }
  }
}

/**
 * `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total` and
 * `process_cpu_seconds_total`, as prom-client defines them: the process's CPU time from
 * `process.cpuUsage()`, brought up to date on each scrape.
 */
export function registerProcessCpu (registry: Registry, usage: () => NodeJS.CpuUsage = () => process.cpuUsage()): void {
  let last = usage()
  const user = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect () {
      const now = usage()
      const userUs = now.user - last.user
      const systemUs = now.system - last.system
      last = now
      user.inc(userUs / 1e6)
      system.inc(systemUs / 1e6)
      total.inc((userUs + systemUs) / 1e6)
    }
  })
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers: [registry] })
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers: [registry] })
}
