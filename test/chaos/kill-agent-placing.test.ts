import anyTest, { type TestFn } from 'ava'
import { fileURLToPath } from 'node:url'
import type { MachineView } from '../../src/api/machines/schemas.js'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { requireParts } from '../helpers/requirements.js'
import { CHAOS_APP, CHAOS_PARTS, MIN_ANSWERED, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'
import { burstIn, deployArgs, spawnRoostIn } from './harness/roost-in.js'

// Chaos: kill -9 of an agent while it is placing machines, under a fixed-rate HTTP load to
// another app through another host's router. A second app is deployed with one machine, then N
// more of its machines are created at once through the placing host's Machines API, and its
// agent is killed the moment the k-th creation answered (the others are being placed then).
// The agent comes back; no machine exists twice, none is orphaned, the cluster converges, and a
// re-run of `roost deploy --count N+1` completes the app. Seeded: the first app's hosts, the
// placing host, N, k and the host of the re-run.

const test = anyTest as TestFn
const chaos = await requireParts(test, CHAOS_PARTS)
chaos.afterAlways(async () => { await stopChaos() })
const PLACED = 'placed'
const PLACED_CONFIG = 'placed.roost.toml'

chaos.serial('kill -9 of an agent while it places machines: no machine twice, no orphan, the cluster converges and a re-run of the deploy completes; the router answers ≥ 99.9 % (process driver)', async t => {
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-placing-' }, async c => {
    const s = c.schedule
    await c.deployChaosApp(s.sample('machine hosts', OTHER_HOSTS, 3))
    await c.startLoad()
    const placer = s.pick('placing host', OTHER_HOSTS)
    const h = c.host(placer)
    const first = spawnRoostIn(h, deployArgs(h, PLACED_CONFIG, ['--count', '1']))
    if (await first.exited !== 0) throw new Error(`the first deploy of ${PLACED} failed: ${first.stderr()}`)
    const one = (JSON.parse(first.stdout()) as DeployResult).machines[0]
    const status = spawnRoostIn(h, ['machines', 'status', one?.id ?? '?', '--app', PLACED, '--json', '--data-dir', h.dataDir])
    if (await status.exited !== 0) throw new Error(`roost machines status failed: ${status.stderr()}`)
    const config = (JSON.parse(status.stdout()) as MachineView).config
    c.mark(`${PLACED} deployed with one machine through ${placer}`)
    await c.requests(s.int('requests before the burst', 100, 300))

    const count = s.int('machines created at once', 4, 6)
    const killAfter = s.int('answers before the kill', 1, count - 1)
    const agentPid = h.process?.pid
    if (agentPid === undefined) throw new Error(`${placer}'s agent is not running`)
    const burst = await burstIn(h, { dataDir: h.dataDir, app: PLACED, config, count, killAfter, killPid: agentPid })
    await c.killAgent(placer)
    c.mark(`killed ${placer}'s agent after ${burst.answeredBeforeKill} of ${count} creations answered; ${burst.created.length} created, ${burst.failed.length} failed`)
    t.log(`burst: ${JSON.stringify(burst)}`)
    await c.startAgent(placer)
    await c.waitForMembership()
    const census = await c.converged([{ app: CHAOS_APP, count: 3 }, { app: PLACED }])
    const made = (census.views.h1 ?? []).filter(m => m.app === PLACED)
    c.mark(`${made.length} ${PLACED} machines exist, each once (1 + ${burst.created.length} reported created)`)
    for (const m of burst.created) t.true(made.some(x => x.id === m.id), `${m.id}, reported created, exists`)
    t.true(made.length >= 1 + burst.created.length && made.length <= 1 + count, `${made.length} machines of ${PLACED}: at least the ${1 + burst.created.length} reported, at most ${1 + count}`)

    const rerunFrom = s.pick('host of the re-run', OTHER_HOSTS)
    const rerun = spawnRoostIn(c.host(rerunFrom), deployArgs(c.host(rerunFrom), PLACED_CONFIG, ['--count', String(1 + count)]))
    t.is(await rerun.exited, 0, `the re-run of the deploy through ${rerunFrom} completes: ${rerun.stderr()}`)
    const result = JSON.parse(rerun.stdout()) as DeployResult
    t.is(result.machines.length, 1 + count)
    c.mark(`re-run through ${rerunFrom}: ${result.machines.map(m => m.action).join(',')}`)
    const final = await c.converged([{ app: CHAOS_APP, count: 3 }, { app: PLACED, count: 1 + count }])
    t.deepEqual((final.views.h1 ?? []).filter(m => m.app === PLACED).map(m => m.id).sort(), result.machines.map(m => m.id).sort())
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED)
  })
})
