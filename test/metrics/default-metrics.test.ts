import test from 'ava'
import { createRequire } from 'node:module'
import type { Registry as PromRegistry, collectDefaultMetrics as CollectDefaultMetrics } from 'prom-client'
import { registerDefaultMetrics, registerProcessCpu } from '../../src/metrics/default-metrics.js'

const require = createRequire(import.meta.url)
const Registry = require('prom-client/lib/registry') as typeof PromRegistry
const loaded = (part: string): boolean => Object.keys(require.cache).some(k => k.includes(part))

test.serial('the default metrics leave @opentelemetry/api unloaded, add the event-loop lag on the first scrape, and are then the series prom-client\'s defaults are', async t => {
  const ours = new Registry()
  const defaults = registerDefaultMetrics(ours)
  t.false(ours.getMetricsAsArray().some(m => m.name.startsWith('nodejs_eventloop_lag')), 'no loop sampling before anyone asks')
  defaults.beforeScrape()
  defaults.beforeScrape()
  t.regex(await ours.metrics(), /^nodejs_eventloop_lag_p99_seconds /m)
  t.false(loaded('@opentelemetry'), 'no exemplar support loaded')
  const collectDefaultMetrics = require('prom-client/lib/defaultMetrics') as typeof CollectDefaultMetrics
  const theirs = new Registry()
  collectDefaultMetrics({ register: theirs })
  const names = (r: PromRegistry): string[] => r.getMetricsAsArray().map(m => m.name).sort()
  t.deepEqual(names(ours), names(theirs))
  t.true(loaded('@opentelemetry'), 'prom-client\'s own set does load it (what this module avoids)')
})

test('the CPU counters add what the process used since the last scrape, user and system apart', async t => {
  const registry = new Registry()
  let now = { user: 1_000_000, system: 500_000 }
  registerProcessCpu(registry, () => now)
  const read = async (): Promise<Record<string, number>> => Object.fromEntries((await registry.getMetricsAsJSON()).map(m => [m.name, (m.values[0]?.value ?? 0) as number]))
  t.deepEqual(await read(), { process_cpu_user_seconds_total: 0, process_cpu_system_seconds_total: 0, process_cpu_seconds_total: 0 })
  now = { user: 3_500_000, system: 1_000_000 }
  t.deepEqual(await read(), { process_cpu_user_seconds_total: 2.5, process_cpu_system_seconds_total: 0.5, process_cpu_seconds_total: 3 })
  now = { user: 4_000_000, system: 1_000_000 }
  t.deepEqual(await read(), { process_cpu_user_seconds_total: 3, process_cpu_system_seconds_total: 0.5, process_cpu_seconds_total: 3.5 })
})
