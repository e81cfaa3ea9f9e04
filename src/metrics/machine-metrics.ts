import type { Registry } from 'prom-client'
import { BOOT_BUCKETS, createBucketHistogram, type BucketHistogram } from './bucket-histogram.js'
import { registerCollected } from './collected-metric.js'

/** How a VM was brought up: a cold boot, a resume from its snapshot, or a warm clone. */
export type LaunchMode = 'boot' | 'resume' | 'clone'

/** The machines family reports each VM launch (successful or not) here. */
export interface LaunchRecorder {
  launched: (driver: string, mode: LaunchMode, seconds: number, ok: boolean) => void
}

/** This host's machines as the machine store holds them, read on scrape. */
export interface MachineListing {
  list: () => Array<{ state: string, driver: string }>
}

/**
 * `roost_machines{state,driver}` (this host's machines) and `roost_machine_launch_seconds`
 * `{driver,mode,outcome}` (boot, resume and clone durations).
 */
export function registerMachineMetrics (registry: Registry, listing: MachineListing): LaunchRecorder {
  const launches = new Map<string, { labels: Record<string, string>, h: BucketHistogram }>()
  registerCollected(registry, {
    name: 'roost_machines',
    help: 'Machines on this host, by state and driver',
    type: 'gauge',
    collect: () => {
      const counts = new Map<string, { labels: Record<string, string>, value: number }>()
      for (const m of listing.list()) {
        const key = `${m.state}\0${m.driver}`
        const c = counts.get(key) ?? { labels: { state: m.state, driver: m.driver }, value: 0 }
        c.value++
        counts.set(key, c)
      }
      return [...counts.values()]
    }
  })
  registerCollected(registry, {
    name: 'roost_machine_launch_seconds',
    help: 'Time to bring a VM up (mode boot, resume or clone), until the driver reports it running or failed',
    type: 'histogram',
    collect: () => [...launches.values()].map(l => ({ labels: l.labels, histogram: l.h.snapshot() }))
  })
  return {
    launched (driver, mode, seconds, ok) {
      const outcome = ok ? 'ok' : 'failed'
      const key = `${driver}\0${mode}\0${outcome}`
      let l = launches.get(key)
      if (l === undefined) {
        l = { labels: { driver, mode, outcome }, h: createBucketHistogram(BOOT_BUCKETS) }
        launches.set(key, l)
      }
      l.h.observe(seconds)
    }
  }
}
