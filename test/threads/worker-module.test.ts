import test from 'ava'
import { once } from 'node:events'
import { processSemiSpaceMb, semiSpaceOf, startWorkerModule, WORKER_YOUNG_GENERATION_MB } from '../../src/threads/worker-module.js'

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

/** Runs `script` (ESM, through tsx) in a fresh node with `nodeArgs`, and parses the JSON it prints. */
async function nodePrintsJson (nodeArgs: string[], script: string): Promise<Report & { mainNewSpaceBytes: number }> {
  const { execFile } = await import('node:child_process')
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeArgs, '--import=tsx', '--input-type=module', '-e', script], { timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(JSON.parse(stdout.trim()))
    })
  })
}

test('under a process-wide --max-semi-space-size (the agent\'s), a worker still gets its own young generation', async t => {
  const modules = JSON.stringify(new URL('../../src/threads/worker-module.ts', import.meta.url).href)
  const fixture = JSON.stringify(new URL('./fixtures/x.ts', import.meta.url).href)
  const r = await nodePrintsJson(['--max-semi-space-size=4'], `
    import { once } from 'node:events'
    import { getHeapSpaceStatistics } from 'node:v8'
    const { startWorkerModule } = await import(${modules})
    const w = startWorkerModule(${fixture}, 'limits-worker', {})
    const [msg] = await once(w, 'message')
    await w.terminate()
    let mainNewSpaceBytes = 0
    const keep = []
    for (let i = 0; i < 300000; i++) {
      keep.push({ i, s: 'x' + i, a: [i] }); if (keep.length > 50000) keep.splice(0, 10000)
      if (i % 1000 === 0) mainNewSpaceBytes = Math.max(mainNewSpaceBytes, getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size)
    }
    console.log(JSON.stringify({ ...msg, mainNewSpaceBytes }))`)
  t.true(r.newSpaceBytes <= (2 / 3) * WORKER_YOUNG_GENERATION_MB * 1024 * 1024, `the worker's new space grew to ${r.newSpaceBytes} bytes`)
  t.true(r.mainNewSpaceBytes > (2 / 3) * WORKER_YOUNG_GENERATION_MB * 1024 * 1024, `the main thread keeps the process's semi-space (its new space grew to ${r.mainNewSpaceBytes} bytes)`)
})

test('the process\'s semi-space is read from its arguments and NODE_OPTIONS, the last one winning', t => {
  t.is(processSemiSpaceMb([], {}), undefined)
  t.is(processSemiSpaceMb([], { NODE_OPTIONS: '--max-semi-space-size=4 --v8-pool-size=1' }), 4)
  t.is(processSemiSpaceMb(['--max-semi-space-size=8'], { NODE_OPTIONS: '--max-semi-space-size=4' }), 8)
  t.is(semiSpaceOf(6), 2)
  t.is(semiSpaceOf(2), 1)
})
