import anyTest, { type TestFn } from 'ava'
import { fileURLToPath } from 'node:url'
import { requireParts } from '../helpers/requirements.js'
import { CHAOS_APP, CHAOS_PARTS, HOSTS, MIN_ANSWERED_LOSSY, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'

// Chaos: 10 % packet loss on every link of the lab (each host's link to the bridge drops 10 % of
// what goes in and 10 % of what goes out, so a packet between two hosts is lost with p ≈ 19 %),
// under a fixed-rate HTTP load through h1's router to machines on other hosts (the requests
// cross two lossy links inside WireGuard). Membership, failover and fencing may act on what
// they see; whatever they do, every machine runs exactly once afterwards and the router
// answered ≥ 99 %. Seeded: the machines' hosts, when the loss begins and how long it lasts.

const test = anyTest as TestFn
const chaos = await requireParts(test, CHAOS_PARTS)
chaos.afterAlways(async () => { await stopChaos() })
const LOSS_PCT = 10

chaos.serial('10 % packet loss on every link: every machine runs exactly once afterwards and the router answers ≥ 99 % (process driver)', async t => {
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-loss-' }, async c => {
    const s = c.schedule
    const { machineHosts } = await c.openUnderLoad('requests before the loss', 100, 400)
    const names = Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`)
    for (const h of names) await c.rl.lab.impair(h, { lossPct: LOSS_PCT })
    c.mark(`${LOSS_PCT} % loss on every link`)
    await c.requests(s.int('requests under loss', 1500, 2500))
    for (const h of names) await c.rl.lab.clearImpair(h)
    c.mark('loss cleared')
    await c.waitForMembership()
    await c.converged([{ app: CHAOS_APP, count: 3 }])
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED_LOSSY)
  })
})
