import type { Registry } from 'prom-client'
import type { MessageFailure, MessageObserver } from '../runtime/observers.js'
import { registerCollected, type ValueSample } from './collected-metric.js'
import { createLabelCap, peerLabel } from './label-cap.js'

/** Distinct message types counted before new ones count as `other` (every protocol's types fit). */
export const MAX_MESSAGE_TYPES = 256
/** Distinct peers counted before new ones count as `other`. */
export const MAX_PEERS = 1024

interface Counts { in: number, out: number, bytesIn: number, bytesOut: number, rejected: number, undelivered: number, malformed: number }

/**
 * `roost_messages_received_total`, `roost_messages_sent_total` and `roost_message_errors_total`
 * by `type` and `peer` (host id prefix); `errors` also by `reason`. Counting is two map lookups
 * and an increment per message; labels are made on scrape.
 */
export function registerMessageMetrics (registry: Registry): MessageObserver {
  /** Lookup by raw host and type; several raw keys may share one labelled Counts. */
  const byHost = new Map<string, Map<string, Counts>>()
  const byLabel = new Map<string, Map<string, Counts>>()
  const series: Array<{ peer: string, type: string, c: Counts }> = []
  const capType = createLabelCap(MAX_MESSAGE_TYPES)
  const capPeer = createLabelCap(MAX_PEERS)
  /** The last pair looked up: a stream of one type from one peer costs two string comparisons, not two hashes of fresh strings. */
  let lastHost = ''
  let lastType = ''
  let last: Counts | undefined
  const counts = (host: string, type: string): Counts => {
    if (last !== undefined && type === lastType && host === lastHost) return last
    let types = byHost.get(host)
    if (types === undefined) {
      types = new Map()
      byHost.set(host, types)
    }
    let c = types.get(type)
    if (c === undefined) {
      const peer = capPeer(peerLabel(host))
      const label = capType(type)
      let labelled = byLabel.get(peer)
      if (labelled === undefined) { labelled = new Map(); byLabel.set(peer, labelled) }
      c = labelled.get(label)
      if (c === undefined) {
        c = { in: 0, out: 0, bytesIn: 0, bytesOut: 0, rejected: 0, undelivered: 0, malformed: 0 }
        labelled.set(label, c)
        series.push({ peer, type: label, c })
      }
      // A type past the cap is looked up anew each time rather than remembered, so made-up types take no memory.
      if (label !== type) return c
      types.set(type, c)
    }
    lastHost = host
    lastType = type
    last = c
    return c
  }
  const collect = (pick: (c: Counts) => Array<[Record<string, string>, number]>): ValueSample[] => {
    const out: ValueSample[] = []
    for (const { peer, type, c } of series) {
      for (const [labels, value] of pick(c)) if (value > 0) out.push({ labels: { peer, type, ...labels }, value })
    }
    return out
  }
  registerCollected(registry, { name: 'roost_messages_received_total', help: 'Actor messages received from other hosts, by type and peer', type: 'counter', collect: () => collect(c => [[{}, c.in]]) })
  registerCollected(registry, { name: 'roost_messages_sent_total', help: 'Actor messages sent to other hosts, by type and peer', type: 'counter', collect: () => collect(c => [[{}, c.out]]) })
  registerCollected(registry, {
    name: 'roost_message_bytes_total',
    help: 'Encoded bytes of actor messages with other hosts, by type, peer and direction (in, out)',
    type: 'counter',
    collect: () => collect(c => [[{ direction: 'in' }, c.bytesIn], [{ direction: 'out' }, c.bytesOut]])
  })
  registerCollected(registry, {
    name: 'roost_message_errors_total',
    help: 'Messages with other hosts that failed: answered with an error (rejected), not delivered, or not decodable (malformed)',
    type: 'counter',
    collect: () => collect(c => [[{ reason: 'rejected' }, c.rejected], [{ reason: 'undelivered' }, c.undelivered], [{ reason: 'malformed' }, c.malformed]])
  })
  return {
    sent (host, type, bytes) {
      const c = counts(host, type)
      c.out++
      c.bytesOut += bytes
    },
    received (host, type, bytes) {
      const c = counts(host, type)
      c.in++
      c.bytesIn += bytes
    },
    failed (host, type, why: MessageFailure) { counts(host, type)[why]++ }
  }
}
