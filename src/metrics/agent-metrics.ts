import { createRequire } from 'node:module'
import type { Registry as PromRegistry } from 'prom-client'
import type { MessageObserver } from '../runtime/observers.js'
import { registerActorMetrics, type ActorMetrics } from './actor-metrics.js'
import { registerMessageMetrics } from './message-metrics.js'
import { registerDefaultMetrics } from './default-metrics.js'
import { createScrapeClock, type ScrapeClock } from './scrape-cache.js'

/**
 * One agent's metrics: its own prom-client Registry (never the global one: tests run several
 * agents in one process), Node's default metrics, and the observers the actor system takes.
 * Other concepts register on `registry` once their sources exist (router, gossip, machines…).
 */
export interface AgentMetrics {
  readonly registry: Registry
  readonly actors: ActorMetrics
  readonly messages: MessageObserver
  /** Sources read on scrape read once per scrape by this. */
  readonly scrapes: ScrapeClock
  /** The exposition text (Prometheus text format 0.0.4). */
  text: () => Promise<string>
  readonly contentType: string
}

// prom-client's index loads all of it, the push gateway client with node:https and node:tls
// (~1 MB of heap) and the cluster aggregator among it: an agent takes the two parts it uses.
const require = createRequire(import.meta.url)
const Registry = require('prom-client/lib/registry') as typeof PromRegistry
type Registry = PromRegistry

export function createAgentMetrics (): AgentMetrics {
  const registry = new Registry()
  const defaults = registerDefaultMetrics(registry)
  const actors = registerActorMetrics(registry)
  const messages = registerMessageMetrics(registry)
  const scrapes = createScrapeClock()
  return {
    registry,
    actors,
    messages,
    scrapes,
    text: async () => {
      scrapes.next()
      defaults.beforeScrape()
      return await registry.metrics()
    },
    contentType: registry.contentType
  }
}
