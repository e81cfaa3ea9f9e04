import { isCI } from '../../src/cli/ci-env.js'
import test from 'ava'
import type { MemberView, RowView } from '../../src/api/control-api.js'
import { labAvailable } from '../../src/lab/lab.js'
import type { Lab } from '../../src/lab/lab.js'
import { roost } from '../helpers/cli.js'
import { startTestLab } from '../helpers/lab.js'
import { retry } from '../helpers/retry.js'
import { serviceRow } from '../helpers/service-row.js'

// A real partition: the lab takes a host's link off the bridge (nothing in, nothing out), rows
// are written on both sides while it is cut, and the cluster converges once it is restored.

const lab = labAvailable()
const CI = isCI()

async function cli (args: string[]): Promise<string> {
  const r = await roost(args)
  if (r.code !== 0) throw new Error(`roost ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}
const membersOf = async (l: Lab, host: string): Promise<MemberView[]> => JSON.parse(await cli(['members', '--json', '--data-dir', l.host(host).dataDir])) as MemberView[]
const servicesOf = async (l: Lab, host: string): Promise<RowView[]> => JSON.parse(await cli(['state', 'services', '--json', '--data-dir', l.host(host).dataDir])) as RowView[]
const stateOf = async (l: Lab, viewer: string, target: string): Promise<string> => (await membersOf(l, viewer)).find(m => m.name === target)?.state ?? 'missing'

/** Writes a `services` row on `host` through its membership actor (the local replica; gossip spreads it). */
async function writeService (l: Lab, host: string, app: string): Promise<void> {
  const msg = { type: 'membership.write', table: 'services', key: app, data: serviceRow(app, 8080, ['http']) }
  await cli(['send', 'local/agent/membership', JSON.stringify(msg), '--data-dir', l.host(host).dataDir])
}

if (!lab.ok && !CI) {
  test.skip(`a cut link partitions the cluster; rows written on both sides converge after it is restored (skipped: ${lab.reason})`, () => {})
} else {
  test.serial('a cut link partitions the cluster; rows written on both sides converge after it is restored', async t => {
    if (!lab.ok) { t.fail(`required under CI: ${lab.reason}`); return }
    t.timeout(4 * 60_000)
    const l = await startTestLab(t, { hosts: 3 })
    await l.waitForMembership()

    await l.cutLink('h3')
    for (const [viewer, target] of [['h1', 'h3'], ['h2', 'h3'], ['h3', 'h1'], ['h3', 'h2']] as const) {
      await retry(async () => await stateOf(l, viewer, target) === 'dead', { timeoutMs: 30_000, intervalMs: 200, what: `${viewer} to see ${target} dead across the cut` })
    }

    // Both sides keep writing.
    await writeService(l, 'h1', 'app-majority')
    await writeService(l, 'h2', 'app-majority-2')
    await writeService(l, 'h3', 'app-minority')
    await retry(async () => (await servicesOf(l, 'h2')).some(r => r.key === 'app-majority'), { timeoutMs: 15_000, what: 'h1\'s row to reach h2 on its side of the cut' })
    t.false((await servicesOf(l, 'h3')).some(r => r.key.startsWith('app-majority')), 'the cut holds: h3 has none of the other side\'s rows')
    t.false((await servicesOf(l, 'h1')).some(r => r.key === 'app-minority'), 'and h1 not h3\'s')

    await l.restoreLink('h3')
    const keys = ['app-majority', 'app-majority-2', 'app-minority']
    for (const h of ['h1', 'h2', 'h3']) {
      await retry(async () => {
        const alive = (await membersOf(l, h)).filter(m => m.state === 'alive').length
        const services = await servicesOf(l, h)
        return alive === 3 && keys.every(k => services.some(r => r.key === k))
      }, { timeoutMs: 60_000, intervalMs: 250, what: `${h} to see every host alive and every row after the link is restored` })
    }
    const views = await Promise.all(['h1', 'h2', 'h3'].map(async h => JSON.stringify((await servicesOf(l, h)).map(r => [r.key, r.owner, r.version]).sort())))
    t.is(new Set(views).size, 1, `every host holds the same services rows: ${views.join(' | ')}`)
  })
}
