import type { Registry } from 'prom-client'
import type { LoopMonitor } from '../runtime/loop-monitor.js'
import { registerCollected } from './collected-metric.js'

/**
 * `roost_event_loop_lag_seconds{quantile}` (p99, max) from the agent's loop monitor, read
 * without resetting its window (`roost stats --reset` owns that). Node's own
 * `nodejs_eventloop_lag_*` (default metrics) cover the window since the last scrape.
 */
export function registerLoopMetrics (registry: Registry, monitor: LoopMonitor): void {
  registerCollected(registry, {
    name: 'roost_event_loop_lag_seconds',
    help: 'Event-loop delay of the agent\'s actor thread since its monitor\'s window began (quantile p99 or max)',
    type: 'gauge',
    collect: () => {
      const d = monitor.read(false)
      return [{ labels: { quantile: '0.99' }, value: d.p99Ms / 1000 }, { labels: { quantile: '1' }, value: d.maxMs / 1000 }]
    }
  })
}
