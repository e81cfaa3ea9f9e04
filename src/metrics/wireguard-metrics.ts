import type { Registry } from 'prom-client'
import { registerCollected } from './collected-metric.js'
import { peerLabel } from './label-cap.js'
import { perScrape, type ScrapeClock } from './scrape-cache.js'

/** One tunnel as the wireguard actor last read it from the interface (`wg show dump` / uapi). */
export interface WireguardPeerFigures {
  hostId: string
  /** Unix seconds of the latest handshake; 0: none yet. */
  latestHandshake: number
  rxBytes: number
  txBytes: number
}

/**
 * `roost_wireguard_handshake_age_seconds{peer}` (absent before a first handshake) and
 * `roost_wireguard_bytes_total{peer,direction}`; nothing when the mesh is off.
 */
export function registerWireguardMetrics (registry: Registry, scrapes: ScrapeClock, source: () => Promise<WireguardPeerFigures[]>, nowS: () => number = () => Date.now() / 1000): void {
  const read = perScrape(source, scrapes)
  registerCollected(registry, {
    name: 'roost_wireguard_handshake_age_seconds',
    help: 'Time since the latest WireGuard handshake with each peer',
    type: 'gauge',
    collect: async () => (await read()).filter(p => p.latestHandshake > 0).map(p => ({ labels: { peer: peerLabel(p.hostId) }, value: Math.max(0, nowS() - p.latestHandshake) }))
  })
  registerCollected(registry, {
    name: 'roost_wireguard_bytes_total',
    help: 'Bytes through the WireGuard tunnel to each peer (direction rx or tx)',
    type: 'counter',
    collect: async () => (await read()).flatMap(p => [
      { labels: { peer: peerLabel(p.hostId), direction: 'rx' }, value: p.rxBytes },
      { labels: { peer: peerLabel(p.hostId), direction: 'tx' }, value: p.txBytes }
    ])
  })
}
