import test from 'ava'
import { createLoopMonitor } from '../../src/runtime/loop-monitor.js'
import { retry } from '../helpers/retry.js'

test('the loop monitor is off until first read, then reports a blocked loop and starts anew on reset', async t => {
  const m = createLoopMonitor()
  t.teardown(() => { m.stop() })
  const first = m.read(false)
  t.is(first.sinceMs, 0, 'nothing was measured before the first read')
  t.is(first.maxMs, 0)
  await retry(() => m.read(false).meanMs > 0, { what: 'the first samples' })
  const until = performance.now() + 40
  while (performance.now() < until) { /* block the loop */ }
  const blocked = await retry(() => { const r = m.read(false); return r.maxMs >= 40 ? r : undefined }, { what: 'the 40 ms block to show' })
  t.true(blocked.p99Ms <= blocked.maxMs)
  const afterReset = m.read(true)
  t.true(afterReset.maxMs >= 40, 'the read that resets still reports the window it closes')
  const next = m.read(false)
  t.true(next.maxMs < 40, 'the new window does not carry the old block')
})
