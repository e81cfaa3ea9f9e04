import anyTest, { type TestFn } from 'ava'
import { fileURLToPath } from 'node:url'
import type { RowView } from '../../src/api/control-api.js'
import { controlCall, memberViews } from '../../src/lab/lab-agents.js'
import { generationOf, machineIdOf } from '../../src/placement/machine-rows.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { routesOf } from '../helpers/router-lab.js'
import { CHAOS_APP, CHAOS_PARTS, LOAD_HOST, MIN_ANSWERED, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'
import { liveMachinesOn, takeCensus } from './harness/invariants.js'

// Chaos: the five hosts split 2 | 3 and heal, under a fixed-rate HTTP load through a router on
// the majority side. What the design guarantees: the 3 side replaces the 2 side's replaceable
// machines, and only after declaring their hosts dead; the 2 side sees no majority, replaces
// nothing, and fences itself (its replaceable machines stop); after healing, the 2 side destroys
// its stale copies: every machine runs exactly once and none is lost. Seeded: the machines'
// hosts, which two hosts form the minority, and when and for how long.

const test = anyTest as TestFn
const chaos = await requireParts(test, CHAOS_PARTS)
chaos.afterAlways(async () => { await stopChaos() })

chaos.serial('partition 2 | 3 and heal: the majority replaces the minority\'s machines after declaring it dead, the minority fences and later destroys its stale copies; exactly once in the end; the router answers ≥ 99.9 % (process driver)', async t => {
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-partition-' }, async c => {
    const s = c.schedule
    const { deployed } = await c.openUnderLoad('requests before the partition', 200, 600)

    const minority = s.sample('minority', OTHER_HOSTS, 2)
    const majority = ['h1', ...OTHER_HOSTS].filter(h => !minority.includes(h))
    const lost = deployed.machines.filter(m => minority.includes(m.hostName)).map(m => m.id)
    await c.rl.lab.partition([minority, majority])
    c.mark(`partition ${minority.join(',')} | ${majority.join(',')}`)

    await c.seenDead(majority, minority, `the majority declaring ${minority.join(', ')} dead`)
    c.mark('the majority sees the minority dead')
    // The minority fences: its replaceable machines stop after the grace.
    await retry(async () => {
      for (const h of minority) {
        if ((await c.failoverStatus(h)).fence !== 'stopped') return false
        if ((await liveMachinesOn(c.host(h))).some(l => lost.includes(l.id))) return false
      }
      return true
    }, { timeoutMs: 30_000, intervalMs: 200, what: `${minority.join(', ')} fenced, their machines stopped` })
    c.mark('the minority fenced and stopped its machines')
    await retry(async () => {
      const app = (await routesOf(c.host(LOAD_HOST), CHAOS_APP)).apps.find(a => a.app === CHAOS_APP)
      const ready = (app?.machines ?? []).filter(m => m.routable && m.health !== 'warning')
      return ready.length === 3 && lost.every(id => ready.some(m => m.id === id))
    }, { timeoutMs: 60_000, intervalMs: 200, what: `${LOAD_HOST}'s router routing to the replacements of ${lost.join(', ')}` })
    c.mark('replacements routable')
    await c.converged([{ app: CHAOS_APP, count: 3 }], { among: majority, timeoutMs: 60_000 })

    // Each replacement was made by a majority host after that host saw the machine's host dead.
    const ids = new Map<string, string>()
    for (const name of [...majority, ...minority]) {
      const self = (await memberViews(c.host(name).socketPath)).find(m => m.self)
      if (self !== undefined) ids.set(self.hostId, name)
    }
    for (const name of majority) {
      const rows = await controlCall(c.host(name).socketPath, async api => await api.state('machines'), 10_000) as RowView[]
      const deadSince = new Map((await memberViews(c.host(name).socketPath)).map(m => [m.name, m.changedAt]))
      for (const r of rows.filter(x => lost.includes(machineIdOf(x)) && x.data !== null && generationOf(x.data) === 2)) {
        const maker = ids.get(r.owner) ?? r.owner
        t.true(majority.includes(maker), `${machineIdOf(r)} was replaced by ${maker}, a majority host`)
        if (maker !== name) continue
        const was = deployed.machines.find(m => m.id === machineIdOf(r))?.hostName ?? '?'
        const createdAt = Number(r.data?.createdAt)
        t.true(createdAt >= (deadSince.get(was) ?? Infinity), `${name} replaced ${machineIdOf(r)} at ${createdAt}, after declaring ${was} dead at ${deadSince.get(was) ?? '?'}`)
      }
    }
    // The minority replaced nothing: in its replicas every machine is still of generation 1.
    const minorityView = await takeCensus(minority.map(n => c.host(n)), [CHAOS_APP])
    for (const h of minority) t.true((minorityView.views[h] ?? []).every(m => m.generation === 1), `${h} replaced nothing: ${JSON.stringify(minorityView.views[h])}`)

    await c.requests(s.int('requests before healing', 0, 600))
    await c.rl.lab.heal()
    c.mark('healed')
    await c.waitForMembership()
    const census = await c.converged([{ app: CHAOS_APP, count: 3 }])
    const view = census.views[LOAD_HOST] ?? []
    for (const id of lost) {
      const m = view.find(x => x.id === id)
      t.is(m?.generation, 2, `${id} was replaced once`)
      t.true(majority.includes(m?.owner ?? ''), `${id} runs on the majority side; the minority destroyed its stale copy`)
    }
    for (const h of minority) t.is((await c.failoverStatus(h)).fence, 'serving', `${h}'s fence ended`)
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED)
  })
})
