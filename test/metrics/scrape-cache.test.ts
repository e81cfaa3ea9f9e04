import test from 'ava'
import { createScrapeClock, perScrape } from '../../src/metrics/scrape-cache.js'

test('a source is read once per scrape, again on the next one, and a failed read is not kept past its scrape', async t => {
  const clock = createScrapeClock()
  let reads = 0
  let fail = false
  const read = perScrape(async () => { reads++; if (fail) throw new Error('no'); return reads }, clock)
  clock.next()
  t.is(await read(), 1)
  t.is(await read(), 1)
  clock.next()
  fail = true
  await t.throwsAsync(read)
  fail = false
  clock.next()
  t.is(await read(), 3)
})
