import test from 'ava'
import { createSuspicion, type Suspicion, type SuspicionInit } from '../../src/gossip/suspicion.js'
import { createVirtualClock, type VirtualClock } from '../helpers/sim/index.js'

const MIN = 1_000
const MAX = 4_000
const K = 3

/** Lifeguard's formula: max − (max − min) · log(c + 1) / log(K + 1), floored at min. */
const expected = (c: number): number => Math.max(MIN, MAX - (MAX - MIN) * Math.log(c + 1) / Math.log(K + 1))

interface Setup { s: Suspicion, clock: VirtualClock, fired: number[] }

function suspect (init: Partial<SuspicionInit> = {}, startMs = 50_000): Setup {
  const clock = createVirtualClock({ startMs })
  const fired: number[] = []
  const s = createSuspicion({ by: 'a', minMs: MIN, maxMs: MAX, confirmations: K, ...init }, {
    clock, onTimeout: () => { fired.push(clock.now() - startMs) }
  })
  return { s, clock, fired }
}

test('with no confirmation it fires once, at maxMs', t => {
  const { s, clock, fired } = suspect()
  t.is(s.timeoutMs(), MAX)
  t.is(s.confirmations(), 0)
  clock.runFor(MAX - 1)
  t.deepEqual(fired, [])
  clock.runFor(1)
  t.deepEqual(fired, [MAX])
  clock.runFor(60_000)
  t.deepEqual(fired, [MAX], 'only once')
  t.is(clock.pending(), 0)
})

test('independent confirmations shrink the timeout logarithmically toward minMs, never below', t => {
  const { s } = suspect()
  const seen = [s.timeoutMs()]
  for (const by of ['b', 'c', 'd', 'e', 'f', 'g']) {
    t.true(s.confirm(by), `${by} is a new confirmer`)
    seen.push(s.timeoutMs())
  }
  t.is(s.confirmations(), 6)
  for (let c = 0; c < seen.length; c++) t.true(Math.abs((seen[c] as number) - expected(c)) < 1e-9, `after ${c}: ${seen[c]} vs ${expected(c)}`)
  // Logarithmic: each confirmation takes off less than the one before, until the floor.
  const steps = seen.slice(1, K + 1).map((v, i) => (seen[i] as number) - v)
  t.true(steps.every((d, i) => i === 0 || d < (steps[i - 1] as number)), `steps ${steps.join(', ')} shrink`)
  t.is(seen[K], MIN, `at the floor after ${K} confirmations`)
  t.true(seen.every(v => v >= MIN), `never below minMs: ${seen.join(', ')}`)
})

test('the shrunk timeout is the one that fires, counted from the start of the suspicion', t => {
  const { s, clock, fired } = suspect()
  clock.runFor(300)
  s.confirm('b')
  clock.runFor(200)
  s.confirm('c')
  const due = expected(2)
  clock.runFor(Math.floor(due) - 500)
  t.deepEqual(fired, [], 'not before the deadline')
  clock.runFor(1)
  t.is(fired.length, 1)
  t.true(Math.abs((fired[0] ?? 0) - due) < 1e-6, `fired at ${fired[0]}, due ${due}`)
  t.is(clock.pending(), 0, 'the longer timer it replaced is gone')
})

test('reaching the floor fires at minMs', t => {
  const { s, clock, fired } = suspect()
  for (const by of ['b', 'c', 'd', 'e']) s.confirm(by)
  clock.runFor(MAX * 2)
  t.deepEqual(fired, [MIN])
})

test('a repeated confirmer, or the accuser itself, does not count', t => {
  const { s, clock, fired } = suspect()
  t.false(s.confirm('a'), 'the member who raised the suspicion')
  t.true(s.confirm('b'))
  t.false(s.confirm('b'))
  t.false(s.confirm('b'))
  t.is(s.confirmations(), 1)
  t.is(s.timeoutMs(), expected(1))
  clock.runFor(MAX)
  t.is(fired.length, 1)
  t.true(Math.abs((fired[0] ?? 0) - expected(1)) < 1e-6, `fired at ${fired[0]}`)
})

test('cancel prevents firing and ignores later confirmations', t => {
  const { s, clock, fired } = suspect()
  s.confirm('b')
  clock.runFor(1_000)
  s.cancel()
  t.is(clock.pending(), 0, 'the timer is cleared')
  t.false(s.confirm('c'), 'a cancelled suspicion takes no confirmations')
  t.false(s.confirm('d'))
  clock.runFor(MAX * 3)
  t.deepEqual(fired, [])
  s.cancel()
  t.deepEqual(fired, [], 'cancelling twice is harmless')
})

test('a confirmation that moves the deadline into the past fires promptly', t => {
  const { s, clock, fired } = suspect()
  clock.runFor(3_000)
  t.true(s.confirm('b')) // 2,500 ms: already past
  clock.runFor(0)
  t.deepEqual(fired, [3_000], 'fired at once, not at maxMs nor later')
  t.false(s.confirm('c'), 'once fired, confirmations are refused')
  clock.runFor(MAX * 2)
  t.deepEqual(fired, [3_000])
})

test('a confirmation that shrinks the deadline but leaves it ahead still waits for it', t => {
  const { s, clock, fired } = suspect()
  clock.runFor(2_000)
  s.confirm('b') // 2,500 ms
  clock.runFor(499)
  t.deepEqual(fired, [])
  clock.runFor(1)
  t.deepEqual(fired, [2_500])
})

test('without confirmations to wait for, or with min ≥ max, the timeout is minMs', t => {
  for (const init of [{ confirmations: 0 }, { minMs: 2_000, maxMs: 2_000 }, { minMs: 3_000, maxMs: 1_000 }]) {
    const { s, clock, fired } = suspect(init)
    const min = init.minMs ?? MIN
    t.is(s.timeoutMs(), min, JSON.stringify(init))
    t.true(s.confirm('b'))
    t.is(s.timeoutMs(), min)
    clock.runFor(10_000)
    t.deepEqual(fired, [min], JSON.stringify(init))
  }
})
