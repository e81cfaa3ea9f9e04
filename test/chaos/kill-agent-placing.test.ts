import anyTest, { type TestFn } from 'ava'
import { fileURLToPath } from 'node:url'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { CHAOS_APP, CHAOS_PARTS, MIN_ANSWERED, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'
import { deployArgs, spawnRoostIn } from './harness/roost-in.js'

// Chaos: kill -9 of an agent while it is placing: `roost deploy --count N` of a second app goes
// through that host, and its agent dies after the k-th machine was created (the next placement
// under way), under a fixed-rate HTTP load to the first app through another host's router. The
// deploy fails; the agent comes back; no machine exists twice, none is orphaned, the cluster
// converges, and a re-run of the deploy completes the app. Seeded: the first app's hosts, the
// placing host, N and k.

const test = anyTest as TestFn
const chaos = await requireParts(test, CHAOS_PARTS)
chaos.afterAlways(async () => { await stopChaos() })
const PLACED = 'placed'

chaos.serial('kill -9 of an agent while it places machines: no machine twice, no orphan, the cluster converges and a re-run of the deploy completes; the router answers ≥ 99.9 % (process driver)', async t => {
  t.timeout(300_000)
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-placing-' }, async c => {
    const s = c.schedule
    await c.deployChaosApp(s.sample('machine hosts', OTHER_HOSTS, 3))
    await c.startLoad()
    await c.requests(s.int('requests before the deploy', 100, 300))

    const placer = s.pick('placing host', OTHER_HOSTS)
    const count = s.int('machines asked for', 4, 6)
    const killAfter = s.int('machines created before the kill', 1, count - 1)
    const deploy = spawnRoostIn(c.host(placer), deployArgs(c.host(placer), 'placed.roost.toml', ['--count', String(count)]))
    try {
      await retry(() => {
        if ((deploy.stderr().match(/^created /gm) ?? []).length >= killAfter) return true
        return deploy.stderr().includes('Error') ? Promise.reject(new Error(`the deploy failed before the kill: ${deploy.stderr()}`)) : false
      }, { timeoutMs: 120_000, intervalMs: 20, what: `${killAfter} machine(s) created through ${placer}` })
      await c.killAgent(placer)
      const code = await deploy.exited
      c.mark(`the deploy through ${placer} ended (${String(code)}) after ${killAfter} of ${count} created`)
      t.log(`deploy output after the kill: ${deploy.stderr().trim().split('\n').slice(-4).join(' | ')}`)
    } finally {
      deploy.kill()
    }
    await c.startAgent(placer)
    await c.waitForMembership()
    const census = await c.converged([{ app: CHAOS_APP, count: 3 }, { app: PLACED }])
    const made = (census.views.h1 ?? []).filter(m => m.app === PLACED).length
    c.mark(`${made} of ${count} ${PLACED} machines exist, each once`)
    t.true(made >= killAfter && made <= count, `${made} machines of ${PLACED}: at least the ${killAfter} reported created, at most ${count}`)

    const rerunFrom = s.pick('host of the re-run', OTHER_HOSTS)
    const rerun = spawnRoostIn(c.host(rerunFrom), deployArgs(c.host(rerunFrom), 'placed.roost.toml', ['--count', String(count)]))
    const code = await rerun.exited
    t.is(code, 0, `the re-run of the deploy through ${rerunFrom} completes: ${rerun.stderr()}`)
    const result = JSON.parse(rerun.stdout()) as DeployResult
    t.is(result.machines.length, count)
    c.mark(`re-run through ${rerunFrom}: ${result.machines.map(m => m.action).join(',')}`)
    const final = await c.converged([{ app: CHAOS_APP, count: 3 }, { app: PLACED, count }])
    t.deepEqual((final.views.h1 ?? []).filter(m => m.app === PLACED).map(m => m.id).sort(), result.machines.map(m => m.id).sort())
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED)
  })
})
