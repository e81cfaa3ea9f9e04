import type { Registry } from 'prom-client'
import { countOf, type BucketSnapshot } from './bucket-histogram.js'

export type Labels = Record<string, string>

/** One series of a gauge or counter as read on scrape. */
export interface ValueSample { labels: Labels, value: number }
/** One series of a histogram as read on scrape. */
export interface HistogramSample { labels: Labels, histogram: BucketSnapshot }

interface Common { name: string, help: string }
/** A metric whose every series is read from live state (or another thread's figures) on scrape. */
export type CollectedMetricSpec =
  | Common & { type: 'gauge' | 'counter', collect: () => ValueSample[] | Promise<ValueSample[]> }
  | Common & { type: 'histogram', collect: () => HistogramSample[] | Promise<HistogramSample[]> }

interface PromValue { value: number, labels: Labels, metricName?: string }

/** prom-client's series for one histogram: cumulative `_bucket`s with `le`, `_sum`, `_count`. */
export function histogramValues (name: string, s: HistogramSample): PromValue[] {
  const out: PromValue[] = []
  let cumulative = 0
  s.histogram.bounds.forEach((le, i) => {
    cumulative += s.histogram.counts[i] ?? 0
    out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: String(le) }, value: cumulative })
  })
  const count = countOf(s.histogram)
  out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: count })
  out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.histogram.sum })
  out.push({ metricName: `${name}_count`, labels: s.labels, value: count })
  return out
}

/**
 * Registers a metric read entirely on scrape. prom-client's own classes keep their series in the
 * process and want every change pushed (a histogram cannot be set from bucket counts); this
 * object has the shape a prom-client Registry formats (name, help, type, get), so figures kept
 * elsewhere — another thread, an actor asked on scrape, a fixed-bucket histogram — are served
 * as they are.
 */
export function registerCollected (registry: Registry, spec: CollectedMetricSpec): void {
  // A source that cannot answer (a thread restarting, an actor busy past the timeout) leaves its
  // metric empty for this scrape rather than failing every other metric with it.
  const safely = async <T>(collect: () => T[] | Promise<T[]>): Promise<T[]> => {
    try { return await collect() } catch { return [] }
  }
  const metric = {
    name: spec.name,
    help: spec.help,
    type: spec.type,
    aggregator: 'sum',
    async get () {
      const values: PromValue[] = spec.type === 'histogram'
        ? (await safely(spec.collect)).flatMap(s => histogramValues(spec.name, s))
        : (await safely(spec.collect)).map(s => ({ value: s.value, labels: s.labels }))
      return { name: spec.name, help: spec.help, type: spec.type, aggregator: 'sum', values }
    },
    reset () {}
  }
  registry.registerMetric(metric as never)
}
