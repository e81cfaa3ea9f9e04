import test from 'ava'
import { createRouterErrors, describeRouterError, isRouterError } from '../../src/proxy/router-errors.js'

test('router errors are summed per app and code: the first is due at once, then one report per window with the count', t => {
  const errors = createRouterErrors({ windowMs: 10_000 })
  for (let i = 0; i < 1000; i++) errors.note('web', 'PR01', 1_000 + i)
  errors.note('web', 'PR04', 1_500, 'connect ECONNREFUSED 127.0.0.1:9\nsecond line')
  errors.note('api', 'PR01', 1_600)
  const first = errors.take(2_000)
  t.deepEqual(first.map(r => [r.app, r.code, r.count]), [['web', 'PR01', 1000], ['web', 'PR04', 1], ['api', 'PR01', 1]])
  t.like(first[0], { firstAt: 1_000, lastAt: 1_999 })
  t.is(first[1]?.detail, 'connect ECONNREFUSED 127.0.0.1:9 second line')
  t.deepEqual(errors.take(2_001), [], 'each is reported once')

  for (let i = 0; i < 500; i++) errors.note('web', 'PR01', 3_000 + i)
  t.deepEqual(errors.take(5_000), [], 'within the window the errors are only counted')
  const later = errors.take(12_000)
  t.deepEqual(later.map(r => [r.app, r.code, r.count, r.firstAt, r.lastAt]), [['web', 'PR01', 500, 3_000, 3_499]])
  t.deepEqual(errors.take(30_000), [])
})

test('client mistakes (4xx result codes) are no router errors; past maxKeys pairs are only counted', t => {
  t.true(isRouterError('PR01'))
  t.true(isRouterError('PR14'))
  t.false(isRouterError('PR02'))
  t.false(isRouterError('PR10'))
  const errors = createRouterErrors({ maxKeys: 2 })
  errors.note('web', 'PR02', 1)
  errors.note('web', 'PR10', 1)
  t.deepEqual(errors.take(2), [])
  errors.note('a', 'PR01', 3)
  errors.note('b', 'PR01', 3)
  errors.note('c', 'PR01', 3)
  t.deepEqual(errors.take(4).map(r => r.app), ['a', 'b'])
  t.is(errors.overflow(), 1)
})

test('a report reads as one line for people', t => {
  t.is(describeRouterError({ app: 'web', code: 'PR01', count: 1, firstAt: 0, lastAt: 0 }), 'web: PR01 no healthy machine for this app')
  t.is(describeRouterError({ app: 'web', code: 'PR04', count: 12, detail: 'ECONNREFUSED', firstAt: 0, lastAt: 3_200 }), 'web: PR04 no machine could be connected (12 times in 3.2 s): ECONNREFUSED')
})
