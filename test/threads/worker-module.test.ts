import test from 'ava'
import { once } from 'node:events'
import { startWorkerModule, WORKER_YOUNG_GENERATION_MB } from '../../src/threads/worker-module.js'

interface Report { resourceLimits: { maxYoungGenerationSizeMb: number }, newSpaceBytes: number }

async function report (young?: number): Promise<Report> {
  const w = startWorkerModule(new URL('./fixtures/x.ts', import.meta.url).href, 'limits-worker', young === undefined ? {} : { resourceLimits: { maxYoungGenerationSizeMb: young } })
  const [msg] = await once(w, 'message') as [Report]
  await w.terminate()
  return msg
}

test('worker threads start with the agent\'s young generation limit, which caps their new space', async t => {
  const r = await report()
  t.is(r.resourceLimits.maxYoungGenerationSizeMb, WORKER_YOUNG_GENERATION_MB)
  // Two semi-spaces of a third of the young generation each, at most (V8's own limit is 32 MB).
  t.true(r.newSpaceBytes <= (2 / 3) * WORKER_YOUNG_GENERATION_MB * 1024 * 1024, `new space grew to ${r.newSpaceBytes} bytes`)
})

test('a caller\'s own young generation limit wins', async t => {
  t.is((await report(12)).resourceLimits.maxYoungGenerationSizeMb, 12)
})
