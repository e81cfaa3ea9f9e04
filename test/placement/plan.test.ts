import test from 'ava'
import { planPlacement, type PlacementHost } from '../../src/placement/plan.js'

const host = (id: string, region: string, over: Partial<PlacementHost> = {}): PlacementHost =>
  ({ id, region, state: 'alive', draining: false, cpusFree: 8, memoryFreeMb: 8192, ...over })

const need = { cpus: 1, memoryMb: 256 }

test('spreads an app over hosts before doubling up', t => {
  const hosts = [host('a', 'ams'), host('b', 'ams'), host('c', 'ams')]
  const slots = planPlacement(hosts, { app: 'web', count: 3, need, regions: [], existing: [] })
  t.deepEqual(slots.map((s) => s.candidates[0]).sort(), ['a', 'b', 'c'])
  const four = planPlacement(hosts, { app: 'web', count: 4, need, regions: [], existing: [] })
  const counts = new Map<string, number>()
  for (const s of four) counts.set(s.candidates[0] as string, (counts.get(s.candidates[0] as string) ?? 0) + 1)
  t.deepEqual([...counts.values()].sort(), [1, 1, 2])
})

test('counts machines the app already runs', t => {
  const hosts = [host('a', 'ams'), host('b', 'ams')]
  const slots = planPlacement(hosts, { app: 'web', count: 1, need, regions: [], existing: ['a'] })
  t.is(slots[0]?.candidates[0], 'b')
  t.deepEqual(slots[0]?.candidates, ['b', 'a'], 'the busier host stays a fallback for a refusal')
})

test('regions are honoured round-robin, and an empty region yields no candidates', t => {
  const hosts = [host('a', 'ams'), host('b', 'ord'), host('c', 'ord')]
  const slots = planPlacement(hosts, { app: 'web', count: 4, need, regions: ['ams', 'ord', 'syd'], existing: [] })
  t.deepEqual(slots.map((s) => s.region), ['ams', 'ord', 'syd', 'ams'])
  t.deepEqual(slots[0]?.candidates, ['a'])
  t.true(['b', 'c'].includes(slots[1]?.candidates[0] as string))
  t.deepEqual(slots[2]?.candidates, [])
  t.deepEqual(slots[3]?.candidates, ['a'])
})

test('dead, suspect, draining and full hosts get nothing', t => {
  const hosts = [
    host('dead', 'ams', { state: 'dead' }), host('sus', 'ams', { state: 'suspect' }),
    host('drain', 'ams', { draining: true }), host('full', 'ams', { memoryFreeMb: 100 }),
    host('ok', 'ams')
  ]
  const slots = planPlacement(hosts, { app: 'web', count: 2, need, regions: [], existing: [] })
  t.deepEqual(slots.map((s) => s.candidates), [['ok'], ['ok']])
})

test('each choice reserves room: a host with room for one takes one', t => {
  const hosts = [host('small', 'ams', { memoryFreeMb: 300 }), host('big', 'ams', { memoryFreeMb: 1000 })]
  const slots = planPlacement(hosts, { app: 'web', count: 4, need, regions: [], existing: [] })
  t.deepEqual(slots.map((s) => s.candidates[0]), ['big', 'small', 'big', 'big'])
  const five = planPlacement(hosts, { app: 'web', count: 5, need, regions: [], existing: [] })
  t.deepEqual(five[4]?.candidates, [], 'no room left anywhere')
})

test('equal hosts: deterministic for one app, different apps prefer different hosts', t => {
  const hosts = Array.from({ length: 8 }, (_, i) => host(`h${i}`, 'ams'))
  const firsts = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const one = planPlacement(hosts, { app: `app${i}`, count: 1, need, regions: [], existing: [] })
    const again = planPlacement([...hosts].reverse(), { app: `app${i}`, count: 1, need, regions: [], existing: [] })
    t.deepEqual(one, again)
    firsts.add(one[0]?.candidates[0] as string)
  }
  t.true(firsts.size >= 4, `first choices spread (${[...firsts].join(',')})`)
})

test('the preferred host goes first among hosts with equally few of the app', t => {
  const hosts = [host('a', 'ams'), host('b', 'ams', { memoryFreeMb: 9000 }), host('c', 'ams')]
  const slots = planPlacement(hosts, { app: 'web', count: 3, need, regions: [], existing: [], prefer: 'c' })
  t.deepEqual(slots.map((s) => s.candidates[0]), ['c', 'b', 'a'])
  const busy = planPlacement(hosts, { app: 'web', count: 1, need, regions: [], existing: ['c'], prefer: 'c' })
  t.is(busy[0]?.candidates[0], 'b', 'spread comes before preference')
})
