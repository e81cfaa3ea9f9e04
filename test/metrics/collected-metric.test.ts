import test from 'ava'
import { Registry } from 'prom-client'
import { addSnapshots, countOf, createBucketHistogram } from '../../src/metrics/bucket-histogram.js'
import { registerCollected } from '../../src/metrics/collected-metric.js'
import { parsePromText, sumOf } from '../helpers/prom-text.js'

test('a bucket histogram puts each value in the first bucket at or above it; its series are cumulative with +Inf, _sum and _count', async t => {
  const h = createBucketHistogram([0.1, 1])
  for (const v of [0.05, 0.1, 0.5, 2, 3]) h.observe(v)
  t.deepEqual(h.snapshot().counts, [2, 1, 2])
  t.is(countOf(h.snapshot()), 5)
  const registry = new Registry()
  registerCollected(registry, { name: 'x_seconds', help: 'x', type: 'histogram', collect: () => [{ labels: { family: '/a' }, histogram: h.snapshot() }] })
  const text = await registry.metrics()
  t.regex(text, /^# TYPE x_seconds histogram$/m)
  const samples = parsePromText(text)
  t.is(sumOf(samples, 'x_seconds_bucket', { family: '/a', le: '0.1' }), 2)
  t.is(sumOf(samples, 'x_seconds_bucket', { family: '/a', le: '1' }), 3)
  t.is(sumOf(samples, 'x_seconds_bucket', { family: '/a', le: '+Inf' }), 5)
  t.is(sumOf(samples, 'x_seconds_count', { family: '/a' }), 5)
  t.is(sumOf(samples, 'x_seconds_sum', { family: '/a' }), 5.65)
})

test('snapshots of the same buckets add up; of different buckets they refuse to', t => {
  const a = createBucketHistogram([1])
  const b = createBucketHistogram([1])
  a.observe(0.5)
  b.observe(5)
  t.deepEqual(addSnapshots(a.snapshot(), b.snapshot()), { bounds: [1], counts: [1, 1], sum: 5.5 })
  t.throws(() => addSnapshots(a.snapshot(), createBucketHistogram([1, 2]).snapshot()), { instanceOf: RangeError })
})

test('a gauge or counter is read on every scrape; a source that throws leaves its metric empty and the others served', async t => {
  const registry = new Registry()
  let n = 0
  registerCollected(registry, { name: 'live', help: 'l', type: 'gauge', collect: () => [{ labels: { a: 'x' }, value: ++n }] })
  registerCollected(registry, { name: 'broken_total', help: 'b', type: 'counter', collect: async () => { throw new Error('thread gone') } })
  t.is(sumOf(parsePromText(await registry.metrics()), 'live', { a: 'x' }), 1)
  const text = await registry.metrics()
  t.is(sumOf(parsePromText(text), 'live', { a: 'x' }), 2)
  t.regex(text, /^# TYPE broken_total counter$/m)
  t.false(parsePromText(text).some(s => s.name === 'broken_total'))
})
