import anyTest, { type TestFn } from 'ava'
import { fileURLToPath } from 'node:url'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { routesOf } from '../helpers/router-lab.js'
import { CHAOS_APP, CHAOS_PARTS, LOAD_HOST, MIN_ANSWERED, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'
import { liveMachinesOn } from './harness/invariants.js'

// Chaos: a host with machines loses its link (nothing in, nothing out) for longer than failure
// detection, then gets it back, under a fixed-rate HTTP load through another host's router. The
// others declare it dead and re-create its replaceable machines; the cut host, alone, fences
// itself (its machines take no traffic after the lease, stop after the grace); once the link is
// back it sees the newer generations and destroys its stale copies, so every machine runs once.
// Seeded: the machines' hosts, the host cut, when, and how long after detection the cut lasts
// (sometimes shorter than the fence's grace, sometimes longer).

const test = anyTest as TestFn
const chaos = await requireParts(test, CHAOS_PARTS)
chaos.afterAlways(async () => { await stopChaos() })

chaos.serial('a host\'s link cut for longer than detection, then restored: its machines come back once elsewhere, it fences itself and then destroys its stale copies; the router answers ≥ 99.9 % (process driver)', async t => {
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-cut-link-' }, async c => {
    const s = c.schedule
    const { machineHosts, deployed } = await c.openUnderLoad('requests before the cut', 200, 600)

    const victim = s.pick('host cut off', machineHosts)
    const lost = deployed.machines.filter(m => m.hostName === victim).map(m => m.id)
    const others = ['h1', ...OTHER_HOSTS].filter(h => h !== victim)
    await c.rl.lab.cutLink(victim)
    c.mark(`cut ${victim}'s link`)
    await c.seenDead(others, [victim], `every other host declaring ${victim} dead`)
    c.mark(`every other host sees ${victim} dead`)
    // Alone, the cut host sees no majority of its region: after the lease it cordons its replaceable machines.
    await retry(async () => (await c.failoverStatus(victim)).fence !== 'serving', { timeoutMs: 20_000, intervalMs: 100, what: `${victim} fencing itself` })
    c.mark(`${victim} fenced (${(await c.failoverStatus(victim)).fence})`)
    await retry(async () => {
      const app = (await routesOf(c.host(LOAD_HOST), CHAOS_APP)).apps.find(a => a.app === CHAOS_APP)
      const ready = (app?.machines ?? []).filter(m => m.routable && m.health !== 'warning')
      return ready.length === 3 && lost.every(id => ready.some(m => m.id === id))
    }, { timeoutMs: 60_000, intervalMs: 200, what: `${LOAD_HOST}'s router routing to the replacements of ${lost.join(', ')}` })
    c.mark('replacements routable')
    await c.converged([{ app: CHAOS_APP, count: 3 }], { among: others, timeoutMs: 60_000 })

    const longer = s.int('requests after detection before the link is restored', 0, 900)
    await c.requests(longer)
    const fence = (await c.failoverStatus(victim)).fence
    const stillRunning = (await liveMachinesOn(c.host(victim))).filter(l => lost.includes(l.id)).length
    c.mark(`${victim}'s fence is ${fence}, ${stillRunning} of its machines still run`)
    await c.rl.lab.restoreLink(victim)
    c.mark(`restored ${victim}'s link`)
    await c.waitForMembership()
    const census = await c.converged([{ app: CHAOS_APP, count: 3 }])
    t.is((await c.failoverStatus(victim)).fence, 'serving', 'the fence ended with the majority back in sight')
    const view = census.views[LOAD_HOST] ?? []
    for (const id of lost) {
      const m = view.find(x => x.id === id)
      t.is(m?.generation, 2, `${id} was replaced once`)
      t.not(m?.owner, victim, `${id} runs elsewhere; the cut host destroyed its stale copy`)
    }
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED)
  })
})
