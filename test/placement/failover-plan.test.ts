import test from 'ava'
import { planFailover, seesMajority, type FailoverHost } from '../../src/placement/failover-plan.js'
import { machineRowKey, type MachineRowLike } from '../../src/placement/machine-rows.js'
import { rendezvousRank } from '../../src/placement/rendezvous.js'

const host = (id: string, over: Partial<FailoverHost> = {}): FailoverHost =>
  ({ id, region: 'ams', state: 'alive', draining: false, cpusFree: 8, memoryFreeMb: 4096, changedAt: 1_000, ...over })

const machine = (id: string, owner: string, over: Record<string, unknown> = {}, gen = 1): MachineRowLike => ({
  key: machineRowKey(id, gen), owner, deleted: false, ownerDead: false,
  data: { id, app: 'web', name: `web-${id}`, host: owner, region: 'ams', state: 'started', generation: gen, failover: 'replace', config: { image: 'x' }, ...over }
})

test('majority: strictly more than half of the region\'s known hosts alive; left hosts do not count', t => {
  t.true(seesMajority([host('a'), host('b'), host('c', { state: 'dead' })], 'ams'))
  t.false(seesMajority([host('a'), host('b', { state: 'dead' })], 'ams'))
  t.false(seesMajority([host('a'), host('b', { state: 'suspect' }), host('c', { state: 'dead' })], 'ams'))
  t.true(seesMajority([host('a'), host('b', { state: 'left' })], 'ams'))
  t.false(seesMajority([host('a', { region: 'ord' })], 'ams'))
})

test('a dead host\'s replaceable machine: exactly one survivor acts first, the others later in rendezvous order', t => {
  const hosts = [host('a'), host('b'), host('c'), host('d', { state: 'dead', changedAt: 5_000 })]
  const rows = [machine('m1', 'd')]
  const order = rendezvousRank('m1:2', ['a', 'b', 'c'])
  const due = ['a', 'b', 'c'].map(self => planFailover({ self, stepMs: 3_000 }, hosts, rows).replacements[0]?.dueAt)
  t.deepEqual(order.map(h => due[['a', 'b', 'c'].indexOf(h)]), [5_000, 8_000, 11_000])
  const first = planFailover({ self: order[0] as string, stepMs: 3_000 }, hosts, rows).replacements[0]
  t.like(first, { id: 'm1', app: 'web', name: 'web-m1', region: 'ams', generation: 2, from: 'd', config: { image: 'x' } })
})

test('nothing is replaced for machines that say none, alive or suspect owners, or destroyed machines', t => {
  const hosts = [host('a'), host('b'), host('s', { state: 'suspect' }), host('d', { state: 'dead' })]
  const rows = [machine('m1', 'd', { failover: 'none' }), machine('m2', 'b'), machine('m3', 's'), machine('m4', 'd', { state: 'destroyed' })]
  for (const self of ['a', 'b']) t.deepEqual(planFailover({ self, stepMs: 1 }, hosts, rows).replacements, [])
})

test('a host that does not see a majority of the region alive replaces nothing (the minority side of a partition)', t => {
  const hosts = [host('a'), host('b', { state: 'dead' }), host('c', { state: 'dead' })]
  const plan = planFailover({ self: 'a', stepMs: 1 }, hosts, [machine('m1', 'b')])
  t.deepEqual(plan.replacements, [])
  t.deepEqual(plan.blocked, ['m1'])
})

test('once a newer generation exists, the dead host\'s row is stale and nobody replaces it again', t => {
  const hosts = [host('a'), host('b'), host('d', { state: 'dead' })]
  const rows = [machine('m1', 'd'), machine('m1', 'b', {}, 2)]
  t.deepEqual(planFailover({ self: 'a', stepMs: 1 }, hosts, rows).replacements, [])
})

test('a host sees its own copy superseded by a newer generation elsewhere (it came back from a partition)', t => {
  const hosts = [host('a'), host('b')]
  const rows = [machine('m1', 'a'), machine('m1', 'b', {}, 2), machine('m2', 'a')]
  t.deepEqual(planFailover({ self: 'a', stepMs: 1 }, hosts, rows).stale, [{ id: 'm1', generation: 1, newerOwner: 'b', newerGeneration: 2 }])
  t.deepEqual(planFailover({ self: 'b', stepMs: 1 }, hosts, rows).stale, [])
})

test('only hosts of the machine\'s region with room are candidates; draining ones are not', t => {
  const hosts = [host('a', { region: 'ord' }), host('full', { memoryFreeMb: 10 }), host('drain', { draining: true }), host('ok'), host('d', { state: 'dead' })]
  const rows = [machine('m1', 'd', { config: { image: 'x', guest: { memory_mb: 512 } } })]
  t.is(planFailover({ self: 'ok', stepMs: 1 }, hosts, rows).replacements.length, 1)
  for (const self of ['a', 'full', 'drain']) t.deepEqual(planFailover({ self, stepMs: 1 }, hosts, rows).replacements, [], self)
})

test('nobody acts before its view of the region has been still for stableMs (a cut-off host sees its peers fall one by one)', t => {
  const hosts = [host('a', { changedAt: 0 }), host('b', { changedAt: 0 }), host('c', { changedAt: 0 }), host('d', { state: 'dead', changedAt: 5_000 })]
  const rows = [machine('m1', 'd')]
  const first = rendezvousRank('m1:2', ['a', 'b', 'c'])[0] as string
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 600 }, hosts, rows).replacements[0]?.dueAt, 5_600)
  const later = hosts.map(h => h.id === 'c' ? { ...h, changedAt: 5_400 } : h)
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 600 }, later, rows).replacements[0]?.dueAt, 6_000, 'a later change in the region moves it on')
  t.is(planFailover({ self: first, stepMs: 3_000 }, hosts, rows).replacements[0]?.dueAt, 5_000)
})

test('a dead host\'s fall counts from its first suspicion; the window is at least a probe round of the region', t => {
  const hosts = [host('a', { changedAt: 0 }), host('b', { changedAt: 0 }), host('c', { changedAt: 0 }), host('d', { state: 'dead', changedAt: 5_000, downSince: 4_500 })]
  const rows = [machine('m1', 'd')]
  const first = rendezvousRank('m1:2', ['a', 'b', 'c'])[0] as string
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 600 }, hosts, rows).replacements[0]?.dueAt, 5_100, 'still since 4,500 + 600')
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 300 }, hosts, rows).replacements[0]?.dueAt, 5_000, 'not before the death itself')
  const peerFell = hosts.map(h => h.id === 'c' ? { ...h, state: 'suspect' as const, changedAt: 4_900, downSince: 4_900 } : h)
  t.deepEqual(planFailover({ self: first === 'c' ? 'a' : first, stepMs: 3_000, stableMs: 600 }, peerFell, rows).replacements, [], 'two of four alive: no majority')
  const peerBack = hosts.map(h => h.id === 'c' ? { ...h, changedAt: 4_900 } : h)
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 600 }, peerBack, rows).replacements[0]?.dueAt, 5_500, 'another host\'s change in the window moves it on')
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 600, probeIntervalMs: 1_000 }, hosts, rows).replacements[0]?.dueAt, 8_500, 'wan: four hosts probed at 1 s take 4 s')
})

test('back from a minority, a host gives the hosts it saw die there rejoinMs after the majority came back: the replacements made meanwhile belong to hosts it still holds dead', t => {
  // a and b were cut off with c, d, e out of sight; d and e replaced m1 as generation 2, owned by e.
  // At 20,000 the heal brings c back into a's view: three of five alive, a majority again, while e
  // (dead in a's view since 4,000) has not reappeared yet.
  const hosts = [host('a', { changedAt: 0 }), host('b', { changedAt: 0 }), host('c', { changedAt: 20_000 }),
    host('d', { state: 'dead', changedAt: 4_000, downSince: 3_800 }), host('e', { state: 'dead', changedAt: 4_000, downSince: 3_800 })]
  const rows = [machine('m1', 'a'), machine('m1', 'e', {}, 2)]
  const since = new Map([['ams', 20_000]])
  const due = (self: string, init: { majoritySince?: Map<string, number>, rejoinMs?: number }): number | undefined =>
    planFailover({ self, stepMs: 3_000, stableMs: 600, ...init }, hosts, rows).replacements[0]?.dueAt
  const first = rendezvousRank('m1:3', ['a', 'b', 'c'])[0] as string
  t.is(due(first, {}), 20_600, 'without the rule: 600 ms after c came back, before e could')
  t.is(due(first, { majoritySince: since, rejoinMs: 12_000 }), 32_000)
  // A death seen while the majority was in sight is acted on as before.
  const later = new Map([['ams', 1_000]])
  t.is(due(first, { majoritySince: later, rejoinMs: 12_000 }), 20_600)
  // The rule delays, it does not forbid: a host that really died stays dead and is replaced.
  t.is(planFailover({ self: first, stepMs: 3_000, stableMs: 600, majoritySince: since, rejoinMs: 12_000 }, hosts, rows).replacements[0]?.generation, 3)
})
