import anyTest, { type TestFn } from 'ava'
import { fileURLToPath } from 'node:url'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { routesOf } from '../helpers/router-lab.js'
import { CHAOS_APP, CHAOS_PARTS, LOAD_HOST, MIN_ANSWERED, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'

// Chaos: kill -9 of a host with machines (its agent, wireguard-go and its machines die at once,
// as when a server loses power), under a fixed-rate HTTP load through another host's router.
// Its replaceable machines come back once on survivors (same id, next generation); the router
// keeps answering; the host returns and runs nothing stale. Seeded: which hosts run the
// machines, which one dies, and when (CHAOS_SEED replays a run).

const test = anyTest as TestFn
const chaos = await requireParts(test, CHAOS_PARTS)
chaos.afterAlways(async () => { await stopChaos() })

chaos.serial('kill -9 of a host with machines: they come back once on survivors, the router answers ≥ 99.9 %, the host returns and runs nothing stale (process driver)', async t => {
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-kill-host-' }, async c => {
    const s = c.schedule
    const { machineHosts, deployed } = await c.openUnderLoad('requests before the kill', 200, 600)

    const victim = s.pick('host killed', machineHosts)
    const lost = deployed.machines.filter(m => m.hostName === victim).map(m => m.id)
    await c.killHost(victim)
    const survivors = ['h1', ...OTHER_HOSTS].filter(h => h !== victim)
    await c.seenDead(survivors, [victim], `every survivor declaring ${victim} dead`)
    c.mark(`every survivor sees ${victim} dead`)

    // The router of the load host routes to the machine's new copy once it is started and passing.
    await retry(async () => {
      const app = (await routesOf(c.host(LOAD_HOST), CHAOS_APP)).apps.find(a => a.app === CHAOS_APP)
      const ready = (app?.machines ?? []).filter(m => m.routable && m.health !== 'warning')
      return ready.length === 3 && lost.every(id => ready.some(m => m.id === id))
    }, { timeoutMs: 60_000, intervalMs: 200, what: `${LOAD_HOST}'s router routing to the replacements of ${lost.join(', ')}` })
    c.mark('replacements routable')
    await c.converged([{ app: CHAOS_APP, count: 3 }], { among: survivors, timeoutMs: 60_000 })
    await c.requests(s.int('requests before the host returns', 100, 400))

    await c.startAgent(victim)
    await c.waitForMembership()
    const census = await c.converged([{ app: CHAOS_APP, count: 3 }])
    const view = census.views[LOAD_HOST] ?? []
    for (const id of lost) {
      const m = view.find(x => x.id === id)
      t.is(m?.generation, 2, `${id} was replaced once (generation 2)`)
      t.not(m?.owner, victim, `${id} runs on a survivor`)
    }
    t.true(view.filter(m => !lost.includes(m.id)).every(m => m.generation === 1), 'the other machines were left alone')
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED)
  })
})
