import type { Registry } from 'prom-client'
import type { ActorObserver, HandlingTimer } from '../runtime/observers.js'
import { createBucketHistogram, LATENCY_BUCKETS, type BucketHistogram } from './bucket-histogram.js'
import { registerCollected } from './collected-metric.js'
import { actorFamily } from './label-cap.js'

/** Where mailbox depths are read on scrape (the actor system). */
export interface MailboxSource {
  mailboxes: () => Array<{ path: string, depth: number }>
}

/** The actor system's observer plus a late-bound mailbox source (the system is made after the observer). */
export interface ActorMetrics extends ActorObserver {
  setSource: (source: MailboxSource) => void
}

/**
 * `roost_actor_mailbox_messages{family}` (messages waiting, summed over the family's actors) and
 * `roost_actor_handling_seconds{family}` (time from taking a message to its reply).
 */
export function registerActorMetrics (registry: Registry): ActorMetrics {
  const timers = new Map<string, BucketHistogram>()
  let source: MailboxSource | undefined
  registerCollected(registry, {
    name: 'roost_actor_mailbox_messages',
    help: 'Messages waiting in the mailboxes of an actor family',
    type: 'gauge',
    collect: () => {
      const byFamily = new Map<string, number>()
      for (const { path, depth } of source?.mailboxes() ?? []) {
        const family = actorFamily(path)
        byFamily.set(family, (byFamily.get(family) ?? 0) + depth)
      }
      return [...byFamily].map(([family, value]) => ({ labels: { family }, value }))
    }
  })
  registerCollected(registry, {
    name: 'roost_actor_handling_seconds',
    help: 'Time an actor of the family spent on one message, from taking it to its reply',
    type: 'histogram',
    collect: () => [...timers].map(([family, h]) => ({ labels: { family }, histogram: h.snapshot() }))
  })
  return {
    timerFor (path): HandlingTimer {
      const family = actorFamily(path)
      let h = timers.get(family)
      if (h === undefined) {
        h = createBucketHistogram(LATENCY_BUCKETS)
        timers.set(family, h)
      }
      return h
    },
    setSource (s) { source = s }
  }
}
