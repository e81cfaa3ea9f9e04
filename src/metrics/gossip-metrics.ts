import type { Registry } from 'prom-client'
import type { BucketSnapshot } from './bucket-histogram.js'
import { registerCollected } from './collected-metric.js'
import { perScrape, type ScrapeClock } from './scrape-cache.js'

/** What the membership actor reports on scrape. */
export interface GossipFigures {
  /** Members (this host included) by state: alive, suspect, dead, left. */
  members: Record<string, number>
  tables: Record<string, { rows: number, tombstones: number }>
  antiEntropyLagMs: number | null
  probeRtt: BucketSnapshot
}

/**
 * Gossip and the replica: `roost_gossip_members{state}`, `roost_gossip_probe_rtt_seconds`,
 * `roost_replica_rows{table}` and `roost_replica_tombstones{table}`, and
 * `roost_replica_anti_entropy_lag_seconds` (since a peer's digest last matched this replica's).
 */
export function registerGossipMetrics (registry: Registry, scrapes: ScrapeClock, source: () => Promise<GossipFigures>): void {
  const read = perScrape(source, scrapes)
  registerCollected(registry, {
    name: 'roost_gossip_members',
    help: 'Cluster members as this host\'s gossip sees them (itself included), by state',
    type: 'gauge',
    collect: async () => Object.entries((await read()).members).map(([state, value]) => ({ labels: { state }, value }))
  })
  registerCollected(registry, {
    name: 'roost_gossip_probe_rtt_seconds',
    help: 'Round-trip time of direct SWIM probes (ping to ack)',
    type: 'histogram',
    collect: async () => [{ labels: {}, histogram: (await read()).probeRtt }]
  })
  registerCollected(registry, {
    name: 'roost_replica_rows',
    help: 'Live rows of the local replica, by table',
    type: 'gauge',
    collect: async () => Object.entries((await read()).tables).map(([table, c]) => ({ labels: { table }, value: c.rows }))
  })
  registerCollected(registry, {
    name: 'roost_replica_tombstones',
    help: 'Deleted rows the local replica still keeps, by table',
    type: 'gauge',
    collect: async () => Object.entries((await read()).tables).map(([table, c]) => ({ labels: { table }, value: c.tombstones }))
  })
  registerCollected(registry, {
    name: 'roost_replica_anti_entropy_lag_seconds',
    help: 'Time since a peer\'s anti-entropy digest last equalled this replica\'s (absent before the first match)',
    type: 'gauge',
    collect: async () => {
      const lag = (await read()).antiEntropyLagMs
      return lag === null ? [] : [{ labels: {}, value: lag / 1000 }]
    }
  })
}
