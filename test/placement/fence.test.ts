import test from 'ava'
import { createFence } from '../../src/placement/fence.js'

test('losing the majority: serving until the lease, unroutable until the grace, then stopped', t => {
  const f = createFence({ leaseMs: 2_000, graceMs: 6_000 })
  t.is(f.update(0, true), 'serving')
  t.is(f.update(1_000, false), 'serving')
  t.is(f.lostSince, 1_000)
  t.is(f.update(2_999, false), 'serving')
  t.is(f.update(3_000, false), 'unroutable')
  t.is(f.update(6_999, false), 'unroutable')
  t.is(f.update(7_000, false), 'stopped')
  t.is(f.stage, 'stopped')
})

test('seeing the majority again ends the fence at once, and a later loss starts a new lease', t => {
  const f = createFence({ leaseMs: 1_000, graceMs: 1_000 })
  f.update(0, false)
  t.is(f.update(1_500, false), 'stopped')
  t.is(f.update(1_600, true), 'serving')
  t.is(f.lostSince, null)
  t.is(f.update(2_000, false), 'serving')
  t.is(f.update(3_000, false), 'stopped')
})

test('a grace shorter than the lease is refused', t => {
  t.throws(() => createFence({ leaseMs: 2_000, graceMs: 1_000 }), { instanceOf: RangeError })
})
