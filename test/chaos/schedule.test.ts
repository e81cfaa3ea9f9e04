import test from 'ava'
import { chaosSeed, createSchedule, mulberry32 } from './harness/schedule.js'

test('one seed gives one schedule: the same choices in the same order, each noted', t => {
  const draw = (seed: number): unknown[] => {
    const s = createSchedule(seed, '/x/test/chaos/kill-host.test.ts')
    return [s.sample('hosts', ['h2', 'h3', 'h4', 'h5'], 3), s.int('n', 200, 600), s.pick('victim', ['a', 'b', 'c']), s.choices]
  }
  t.deepEqual(draw(42), draw(42))
  t.notDeepEqual(draw(42), draw(43))
  const s = createSchedule(7, '/x/test/chaos/kill-host.test.ts')
  const hosts = s.sample('hosts', ['h2', 'h3', 'h4', 'h5'], 4)
  t.deepEqual([...hosts].sort(), ['h2', 'h3', 'h4', 'h5'], 'a sample has no repeats')
  for (let i = 0; i < 200; i++) {
    const n = s.int('n', 3, 5)
    t.true(n >= 3 && n <= 5 && Number.isInteger(n))
  }
  t.is(s.choices[0]?.what, 'hosts')
  t.is(s.replay, 'CHAOS_SEED=7 npx ava test/chaos/kill-host.test.ts')
  t.throws(() => s.sample('too many', [1], 2), { instanceOf: RangeError })
  t.throws(() => s.pick('none', []), { instanceOf: RangeError })
})

test('mulberry32 is uniform enough for choosing hosts', t => {
  const next = mulberry32(1)
  const bins = [0, 0, 0, 0]
  for (let i = 0; i < 4000; i++) (bins[Math.floor(next() * 4)] as number)++
  t.true(bins.every(b => b > 850 && b < 1150), JSON.stringify(bins))
})

test('CHAOS_SEED replays a seed; without it a fresh one is drawn; a bad one is refused', t => {
  t.is(chaosSeed({ CHAOS_SEED: '548711846' }), 548711846)
  const fresh = chaosSeed({})
  t.true(Number.isInteger(fresh) && fresh > 0)
  t.throws(() => chaosSeed({ CHAOS_SEED: 'abc' }), { instanceOf: RangeError })
  t.throws(() => chaosSeed({ CHAOS_SEED: '-1' }), { instanceOf: RangeError })
})
