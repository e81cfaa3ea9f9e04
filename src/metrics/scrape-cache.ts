/** Counts scrapes, so the sources a scrape reads are read once for it (see `perScrape`). */
export interface ScrapeClock {
  /** The number of the scrape under way (or the last one). */
  current: () => number
  /** Called as a scrape begins. */
  next: () => void
}

export function createScrapeClock (): ScrapeClock {
  let n = 0
  return { current: () => n, next: () => { n++ } }
}

/**
 * One read of a source for all the metrics of one scrape: prom-client collects every metric on
 * its own, and a thread or actor asked once per metric would be asked a dozen times.
 */
export function perScrape<T> (read: () => Promise<T>, clock: ScrapeClock): () => Promise<T> {
  let cached: { scrape: number, value: Promise<T> } | undefined
  return async () => {
    const scrape = clock.current()
    if (cached === undefined || cached.scrape !== scrape) cached = { scrape, value: read() }
    return await cached.value
  }
}
