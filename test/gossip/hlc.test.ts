import test from 'ava'
import type { Clock } from '../../src/runtime/clock.js'
import {
  DEFAULT_MAX_DRIFT_MS, HLC_COUNTER_SPAN, HLC_EPOCH_MS, HLC_MAX_PHYSICAL_MS,
  createHlc, hlcCounter, hlcEncode, hlcPhysicalMs
} from '../../src/gossip/hlc.js'

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0)

function manualClock (start = T0): Clock & { set: (ms: number) => void } {
  let time = start
  return {
    now: () => time,
    setTimeout: () => { throw new Error('the hlc must not set timers') },
    clearTimeout: () => {},
    set: (ms) => { time = ms }
  }
}

function strictlyIncreasing (xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || x > (xs[i - 1] ?? Infinity))
}

test('encoding: physical ms since 2024-01-01 times 4096 plus the counter, within safe integers', t => {
  t.is(HLC_EPOCH_MS, Date.parse('2024-01-01T00:00:00Z'))
  const v = hlcEncode(T0, 7)
  t.is(v, (T0 - HLC_EPOCH_MS) * 4096 + 7)
  t.is(hlcPhysicalMs(v), T0)
  t.is(hlcCounter(v), 7)
  t.true(Number.isSafeInteger(hlcEncode(HLC_MAX_PHYSICAL_MS, HLC_COUNTER_SPAN - 1)))
  t.is(hlcEncode(HLC_MAX_PHYSICAL_MS, HLC_COUNTER_SPAN - 1), Number.MAX_SAFE_INTEGER)
  t.true(new Date(HLC_MAX_PHYSICAL_MS).getUTCFullYear() >= 2093)
})

test('now() follows wall time when it moves forward', t => {
  const clock = manualClock()
  const hlc = createHlc(clock)
  const a = hlc.now()
  clock.set(T0 + 5)
  const b = hlc.now()
  t.is(hlcPhysicalMs(a), T0)
  t.is(b, hlcEncode(T0 + 5, 0))
})

test('now() is strictly increasing under a frozen clock, also past 4096 versions in one ms', t => {
  const hlc = createHlc(manualClock())
  const vs = Array.from({ length: 3 * HLC_COUNTER_SPAN }, () => hlc.now())
  t.true(strictlyIncreasing(vs))
  t.is(vs[0], hlcEncode(T0, 0))
  t.is(vs[vs.length - 1], hlcEncode(T0, 0) + vs.length - 1)
})

test('now() is strictly increasing when the wall clock goes backwards', t => {
  const clock = manualClock()
  const hlc = createHlc(clock)
  const before = [hlc.now(), hlc.now()]
  clock.set(T0 - 10_000)
  const after = [hlc.now(), hlc.now()]
  clock.set(T0 + 1)
  const later = hlc.now()
  t.true(strictlyIncreasing([...before, ...after, later]))
  t.is(hlcPhysicalMs(after[1] ?? 0), T0)
  t.is(later, hlcEncode(T0 + 1, 0))
})

test('versions are positive even with a wall clock before the epoch', t => {
  const hlc = createHlc(manualClock(HLC_EPOCH_MS - 1_000_000))
  t.true(hlc.now() > 0)
})

test('observe() advances the clock past a remote version ahead of ours', t => {
  const hlc = createHlc(manualClock())
  hlc.now()
  const remote = hlcEncode(T0 + 30_000, 12)
  t.true(hlc.observe(remote))
  t.is(hlc.peek(), remote)
  const next = hlc.now()
  t.true(next > remote)
  t.is(hlcPhysicalMs(next), T0 + 30_000)
})

test('observe() of an older remote version changes nothing', t => {
  const hlc = createHlc(manualClock())
  const mine = hlc.now()
  t.true(hlc.observe(hlcEncode(T0 - 60_000, 0)))
  t.is(hlc.peek(), mine)
  t.is(hlc.now(), mine + 1)
})

test('observe() refuses a version more than maxDriftMs ahead and leaves the clock alone', t => {
  const hlc = createHlc(manualClock())
  const mine = hlc.now()
  t.false(hlc.observe(hlcEncode(T0 + DEFAULT_MAX_DRIFT_MS + 1, 0)))
  t.is(hlc.peek(), mine)
  t.true(hlc.observe(hlcEncode(T0 + DEFAULT_MAX_DRIFT_MS, 0)))

  const strict = createHlc(manualClock(), { maxDriftMs: 1_000 })
  t.false(strict.observe(hlcEncode(T0 + 1_001, 0)))
  t.true(strict.observe(hlcEncode(T0 + 1_000, 0)))
})

test('observe() refuses values that are not versions', t => {
  const hlc = createHlc(manualClock())
  for (const bad of [0, -5, 1.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 2]) t.false(hlc.observe(bad), String(bad))
  t.is(hlc.peek(), 0)
})

test('advance() has no drift bound (for versions this host issued itself)', t => {
  const hlc = createHlc(manualClock())
  const own = hlcEncode(T0 + 10 * DEFAULT_MAX_DRIFT_MS, 0)
  hlc.advance(own)
  t.true(hlc.now() > own)
})
