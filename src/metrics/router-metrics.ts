import type { Registry } from 'prom-client'
import { registerCollected } from './collected-metric.js'
import { countOf, type BucketSnapshot } from './bucket-histogram.js'
import { perScrape, type ScrapeClock } from './scrape-cache.js'

/**
 * How a request or connection reached the router: a client on a public port speaking HTTP
 * (`http`), HTTP inside TLS (`https`), raw TCP (`tcp`), raw TCP inside TLS (`tls`), or another
 * router backhauling a request to a machine of this host (`backhaul`).
 */
export type RouterHandler = 'http' | 'https' | 'tcp' | 'tls' | 'backhaul'

/** One (app, handler, result) series: how many answers and how long each took. */
export interface RouterAnswerSeries {
  app: string
  handler: RouterHandler
  /** An HTTP status class (`2xx`…), a router result code (`PR01`…) or `connected` (TCP). */
  result: string
  latency: BucketSnapshot
}

/** The data plane's counters as the main thread reads them on scrape (structured-clone safe). */
export interface RouterMetricsSnapshot {
  answers: RouterAnswerSeries[]
  /** Client connections accepted, by the kind of port. */
  connections: Record<string, number>
  /** Client connections open now. */
  open: number
  /** Bytes over backhaul connections: `edge` ones this router opened to other hosts, `hosted` ones other routers opened here. */
  backhaul: { edge: { in: number, out: number }, hosted: { in: number, out: number } }
  /** The data plane's event loop since it started (ms): working and waiting. */
  loop: { activeMs: number, idleMs: number }
}

/** The counters of a data plane that has not started: nothing answered, nothing open. */
export function idleRouterMetrics (): RouterMetricsSnapshot {
  return { answers: [], connections: { http: 0, tcp: 0, tls: 0 }, open: 0, backhaul: { edge: { in: 0, out: 0 }, hosted: { in: 0, out: 0 } }, loop: { activeMs: 0, idleMs: 0 } }
}

/** Where the router's counters come from: the data plane (its thread), asked on scrape. */
export interface RouterMetricsSource {
  metrics: () => Promise<RouterMetricsSnapshot>
}

/**
 * The router: `roost_router_requests_total` and `roost_router_request_duration_seconds` by
 * app, handler and result (status class, router code or `connected`), client connections
 * accepted and open, backhaul bytes, and the data plane thread's busy time.
 */
export function registerRouterMetrics (registry: Registry, scrapes: ScrapeClock, source: RouterMetricsSource): void {
  const read = perScrape(source.metrics, scrapes)
  registerCollected(registry, {
    name: 'roost_router_requests_total',
    help: 'Requests (HTTP) and connections (TCP) the router answered, by app, handler and result (status class, PRxx code, connected)',
    type: 'counter',
    collect: async () => (await read()).answers.map(a => ({ labels: { app: a.app, handler: a.handler, result: a.result }, value: countOf(a.latency) }))
  })
  registerCollected(registry, {
    name: 'roost_router_request_duration_seconds',
    help: 'Time from a request\'s first byte to the response head (HTTP), or from a connection to its machine being connected (TCP)',
    type: 'histogram',
    collect: async () => (await read()).answers.map(a => ({ labels: { app: a.app, handler: a.handler, result: a.result }, histogram: a.latency }))
  })
  registerCollected(registry, {
    name: 'roost_router_connections_total',
    help: 'Client connections accepted on public ports, by kind of port (http, tcp, tls)',
    type: 'counter',
    collect: async () => Object.entries((await read()).connections).map(([kind, value]) => ({ labels: { kind }, value }))
  })
  registerCollected(registry, {
    name: 'roost_router_open_connections',
    help: 'Client connections open now',
    type: 'gauge',
    collect: async () => [{ labels: {}, value: (await read()).open }]
  })
  registerCollected(registry, {
    name: 'roost_backhaul_bytes_total',
    help: 'Bytes over backhaul connections: side=edge (this router to other hosts), side=hosted (other routers to this host)',
    type: 'counter',
    collect: async () => {
      const { edge, hosted } = (await read()).backhaul
      return [
        { labels: { side: 'edge', direction: 'in' }, value: edge.in },
        { labels: { side: 'edge', direction: 'out' }, value: edge.out },
        { labels: { side: 'hosted', direction: 'in' }, value: hosted.in },
        { labels: { side: 'hosted', direction: 'out' }, value: hosted.out }
      ]
    }
  })
  registerCollected(registry, {
    name: 'roost_data_plane_busy_seconds_total',
    help: 'Time the data plane thread\'s event loop spent working (not waiting for events)',
    type: 'counter',
    collect: async () => [{ labels: {}, value: (await read()).loop.activeMs / 1000 }]
  })
}
