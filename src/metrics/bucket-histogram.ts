/** Upper bounds (seconds) for request and handling latencies: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Upper bounds (seconds) for VM boots and resumes: 10 ms to 2 minutes. */
export const BOOT_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

/** A histogram's figures, structured-clone safe (what worker threads send to the main thread). */
export interface BucketSnapshot {
  /** Upper bounds, ascending; the +Inf bucket is implied. */
  bounds: readonly number[]
  /** Observations per bucket (not cumulative), one more than `bounds` (the last: over every bound). */
  counts: number[]
  sum: number
}

/**
 * A fixed-bucket histogram cheap enough for hot paths: `observe` allocates nothing and takes no
 * labels (keep one per label set). prom-client's Histogram hashes its labels on every observe.
 */
export interface BucketHistogram {
  observe: (value: number) => void
  snapshot: () => BucketSnapshot
}

export function createBucketHistogram (bounds: readonly number[]): BucketHistogram {
  const counts = new Float64Array(bounds.length + 1)
  let sum = 0
  return {
    observe (value) {
      let i = 0
      while (i < bounds.length && value > (bounds[i] as number)) i++
      counts[i] = (counts[i] as number) + 1
      sum += value
    },
    snapshot: () => ({ bounds, counts: Array.from(counts), sum })
  }
}

/** Adds `b` into `a` (same bounds); for figures from several sources under one label set. */
export function addSnapshots (a: BucketSnapshot, b: BucketSnapshot): BucketSnapshot {
  if (a.bounds.length !== b.bounds.length) throw new RangeError('histograms with different buckets cannot be added')
  return { bounds: a.bounds, counts: a.counts.map((n, i) => n + (b.counts[i] ?? 0)), sum: a.sum + b.sum }
}

/** Total observations of a snapshot. */
export function countOf (s: BucketSnapshot): number {
  let n = 0
  for (const c of s.counts) n += c
  return n
}
