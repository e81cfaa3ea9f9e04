import { createBucketHistogram, LATENCY_BUCKETS, type BucketHistogram } from '../metrics/bucket-histogram.js'
import { createLabelCap } from '../metrics/label-cap.js'
import type { RouterAnswerSeries, RouterHandler } from '../metrics/router-metrics.js'

export type { RouterAnswerSeries, RouterHandler, RouterMetricsSnapshot } from '../metrics/router-metrics.js'

/** Apps counted before new ones count as `other` (apps come from the route table, so this is a safety net). */
export const MAX_APPS = 1000

/** The counting side, kept in the data plane's thread: increments only, no message per request. */
export interface RouterCounters {
  /** One answer; `seconds` from the request's first byte (HTTP) or the connection (TCP). */
  answered: (app: string, handler: RouterHandler, result: string, seconds: number) => void
  accepted: (kind: 'http' | 'tcp' | 'tls') => void
  answers: () => RouterAnswerSeries[]
  connections: () => Record<string, number>
}

export function createRouterCounters (): RouterCounters {
  const capApp = createLabelCap(MAX_APPS)
  const byApp = new Map<string, Map<RouterHandler, Map<string, BucketHistogram>>>()
  const series: Array<{ app: string, handler: RouterHandler, result: string, h: BucketHistogram }> = []
  const connections = { http: 0, tcp: 0, tls: 0 }
  return {
    answered (app, handler, result, seconds) {
      let handlers = byApp.get(app)
      if (handlers === undefined) {
        const label = capApp(app)
        handlers = byApp.get(label) ?? new Map()
        byApp.set(label, handlers)
        if (label === app) byApp.set(app, handlers)
      }
      let results = handlers.get(handler)
      if (results === undefined) { results = new Map(); handlers.set(handler, results) }
      let h = results.get(result)
      if (h === undefined) {
        h = createBucketHistogram(LATENCY_BUCKETS)
        results.set(result, h)
        series.push({ app: capApp(app), handler, result, h })
      }
      h.observe(seconds)
    },
    accepted (kind) { connections[kind]++ },
    answers: () => series.map(s => ({ app: s.app, handler: s.handler, result: s.result, latency: s.h.snapshot() })),
    connections: () => ({ ...connections })
  }
}
