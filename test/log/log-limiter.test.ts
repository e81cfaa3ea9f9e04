import test from 'ava'
import { createLogLimiter, suppressedField } from '../../src/log/log-limiter.js'

test('a key writes its burst per window, counts the rest, and the next written line says how many were suppressed', t => {
  let now = 0
  const limiter = createLogLimiter({ burst: 3, windowMs: 1_000 }, { clock: { now: () => now } })
  t.deepEqual([1, 2, 3].map(() => limiter.take('a')), [0, 0, 0])
  for (let i = 0; i < 100; i++) t.is(limiter.take('a'), false)
  t.is(limiter.take('b'), 0, 'keys are independent')
  now = 999
  t.is(limiter.take('a'), false)
  now = 1_000
  t.is(limiter.take('a'), 101)
  t.is(limiter.take('a'), 0)
  t.deepEqual(suppressedField(0), {})
  t.deepEqual(suppressedField(4), { suppressed: 4 })
})

test('keys are bounded: the oldest is forgotten', t => {
  const limiter = createLogLimiter({ burst: 1, maxKeys: 10 }, { clock: { now: () => 0 } })
  for (let i = 0; i < 1_000; i++) limiter.take(`k${i}`)
  t.is(limiter.size(), 10)
  t.is(limiter.take('k999'), false)
  t.is(limiter.take('k0'), 0, 'forgotten, so written again')
})
