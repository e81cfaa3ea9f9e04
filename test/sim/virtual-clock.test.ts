import test from 'ava'
import { sleep, type Clock } from '../../src/runtime/clock.js'
import { createRng } from '../helpers/sim/rng.js'
import { createVirtualClock } from '../helpers/sim/virtual-clock.js'

test('starts at startMs (0 by default) and is a Clock', async t => {
  t.is(createVirtualClock().now(), 0)
  const clock: Clock = createVirtualClock({ startMs: 1_000 })
  t.is(clock.now(), 1_000)
  // Production code that sleeps on a Clock resumes once virtual time passes.
  const vc = createVirtualClock()
  let woke = false
  const p = sleep(vc, 250).then(() => { woke = true })
  vc.runFor(249)
  await Promise.resolve()
  t.false(woke)
  vc.runFor(1)
  await p
  t.true(woke)
  t.is(vc.now(), 250)
})

test('events run by time, then in the order they were scheduled', t => {
  const clock = createVirtualClock()
  const order: string[] = []
  clock.setTimeout(() => order.push('c@30'), 30)
  clock.setTimeout(() => order.push('a@10'), 10)
  clock.schedule(20, () => order.push('b1@20'))
  clock.setTimeout(() => order.push('b2@20'), 20)
  clock.schedule(10, () => order.push('a2@10'))
  clock.setTimeout(() => order.push('z@0'), 0)
  t.is(clock.runUntil(100), 6)
  t.deepEqual(order, ['z@0', 'a@10', 'a2@10', 'b1@20', 'b2@20', 'c@30'])
  t.is(clock.now(), 100)
})

test('now() inside a callback is the event time; runUntil leaves now at its limit', t => {
  const clock = createVirtualClock({ startMs: 5 })
  const seen: Array<[number, number]> = []
  for (const at of [7.25, 6, 50, 12]) clock.schedule(at, () => seen.push([at, clock.now()]))
  clock.runUntil(20)
  t.deepEqual(seen, [[6, 6], [7.25, 7.25], [12, 12]])
  t.is(clock.now(), 20)
  t.is(clock.pending(), 1)
  clock.runFor(30)
  t.deepEqual(seen.at(-1), [50, 50])
  t.is(clock.now(), 50)
})

test('negative delays and past times run now, after what is already due now', t => {
  const clock = createVirtualClock({ startMs: 100 })
  const order: string[] = []
  clock.setTimeout(() => order.push('first'), 0)
  clock.setTimeout(() => order.push('negative'), -50)
  clock.schedule(10, () => { order.push(`past@${clock.now()}`) })
  clock.runUntil(100)
  t.deepEqual(order, ['first', 'negative', 'past@100'])
})

test('clearTimeout prevents the callback; stale and foreign handles are ignored', t => {
  const clock = createVirtualClock()
  const ran: string[] = []
  const a = clock.setTimeout(() => ran.push('a'), 10)
  const b = clock.setTimeout(() => ran.push('b'), 10)
  t.truthy(a)
  t.not(a, b)
  t.is(clock.pending(), 2)
  clock.clearTimeout(a)
  clock.clearTimeout(a)
  t.is(clock.pending(), 1)
  for (const foreign of [undefined, null, 0, -1, 1.5, 'x', {}, 2 ** 60]) clock.clearTimeout(foreign)
  clock.runUntil(10)
  t.deepEqual(ran, ['b'])
  // `b` fired; its slot is reused by `c`, and clearing the stale `b` must not cancel `c`.
  const c = clock.setTimeout(() => ran.push('c'), 5)
  clock.clearTimeout(b)
  t.is(clock.pending(), 1)
  clock.runFor(5)
  t.deepEqual(ran, ['b', 'c'])
  clock.clearTimeout(c)
  t.is(clock.pending(), 0)
})

test('an event can clear a later one, and clearing itself is harmless', t => {
  const clock = createVirtualClock()
  const ran: string[] = []
  let self: unknown
  const later = clock.setTimeout(() => ran.push('later'), 20)
  self = clock.setTimeout(() => {
    ran.push('self')
    clock.clearTimeout(self)
    clock.clearTimeout(later)
  }, 10)
  clock.runUntil(100)
  t.deepEqual(ran, ['self'])
  self = undefined
})

test('events scheduled during runUntil run if due by the limit', t => {
  const clock = createVirtualClock()
  const ran: Array<[string, number]> = []
  clock.setTimeout(() => {
    ran.push(['outer', clock.now()])
    clock.setTimeout(() => ran.push(['same-time', clock.now()]), 0)
    clock.setTimeout(() => {
      ran.push(['nested', clock.now()])
      clock.setTimeout(() => ran.push(['deep', clock.now()]), 40)
    }, 30)
    clock.setTimeout(() => ran.push(['beyond', clock.now()]), 200)
  }, 10)
  t.is(clock.runUntil(100), 4)
  t.deepEqual(ran, [['outer', 10], ['same-time', 10], ['nested', 40], ['deep', 80]])
  t.is(clock.pending(), 1)
  clock.runUntil(210)
  t.deepEqual(ran.at(-1), ['beyond', 210])
})

test('a chain of zero-delay events at the limit all run', t => {
  const clock = createVirtualClock()
  let n = 0
  const tick = (): void => { if (++n < 1000) clock.setTimeout(tick, 0) }
  clock.schedule(50, tick)
  clock.runUntil(50)
  t.is(n, 1000)
  t.is(clock.now(), 50)
})

test('step runs one event at a time', t => {
  const clock = createVirtualClock()
  const ran: number[] = []
  clock.schedule(3, () => ran.push(3))
  const cleared = clock.schedule(2, () => ran.push(2))
  clock.schedule(1, () => ran.push(1))
  clock.clearTimeout(cleared)
  t.true(clock.step())
  t.deepEqual(ran, [1])
  t.is(clock.now(), 1)
  t.true(clock.step())
  t.deepEqual(ran, [1, 3])
  t.is(clock.now(), 3)
  t.false(clock.step())
  t.is(clock.now(), 3)
  t.is(clock.processed(), 2)
})

test('runWhile stops as soon as the predicate is false', t => {
  const clock = createVirtualClock()
  let count = 0
  const tick = (): void => { count++; clock.setTimeout(tick, 10) }
  clock.setTimeout(tick, 10)
  t.true(clock.runWhile(() => count < 5, 1_000))
  t.is(count, 5)
  t.is(clock.now(), 50)
  // Already false: nothing runs.
  t.true(clock.runWhile(() => count < 5, 1_000))
  t.is(count, 5)
  t.is(clock.now(), 50)
})

test('runWhile gives up at the limit and returns false', t => {
  const clock = createVirtualClock()
  let count = 0
  const tick = (): void => { count++; clock.setTimeout(tick, 10) }
  clock.setTimeout(tick, 10)
  t.false(clock.runWhile(() => count < 100, 95))
  t.is(count, 9)
  t.is(clock.now(), 95)
  // With nothing pending, it still advances to the limit; a predicate on time can then turn false.
  const idle = createVirtualClock()
  t.false(idle.runWhile(() => true, 30))
  t.is(idle.now(), 30)
  t.true(idle.runWhile(() => idle.now() < 40, 30))
  t.is(idle.now(), 60)
})

test('an exception in an event propagates; the clock stays usable', t => {
  const clock = createVirtualClock()
  const ran: number[] = []
  clock.schedule(1, () => ran.push(1))
  clock.schedule(2, () => { throw new Error('boom') })
  clock.schedule(3, () => ran.push(3))
  t.throws(() => clock.runUntil(10), { message: 'boom' })
  t.is(clock.now(), 2)
  t.deepEqual(ran, [1])
  t.is(clock.pending(), 1)
  clock.runUntil(10)
  t.deepEqual(ran, [1, 3])
})

test('running from inside an event, going backwards, and non-finite times are refused', t => {
  const clock = createVirtualClock()
  clock.schedule(1, () => { clock.runUntil(5) })
  t.throws(() => clock.runUntil(2), { message: /inside an event/ })
  clock.schedule(3, () => { clock.step() })
  t.throws(() => clock.runUntil(4), { message: /inside an event/ })
  t.throws(() => clock.runUntil(1), { instanceOf: RangeError })
  t.throws(() => clock.runFor(-1), { instanceOf: RangeError })
  t.throws(() => clock.runWhile(() => true, -1), { instanceOf: RangeError })
  t.throws(() => clock.setTimeout(() => {}, NaN), { instanceOf: RangeError })
  t.throws(() => clock.setTimeout(() => {}, Infinity), { instanceOf: RangeError })
  t.throws(() => clock.schedule(NaN, () => {}), { instanceOf: RangeError })
  t.throws(() => createVirtualClock({ startMs: NaN }), { instanceOf: RangeError })
  // Still usable after all that.
  let ran = false
  clock.setTimeout(() => { ran = true }, 1)
  clock.runFor(1)
  t.true(ran)
})

test('matches a naive reference under random schedule/clear/nested churn', t => {
  // Exercises heap growth, slot reuse and compaction (many clears) against a sorted-list model.
  for (const seed of [1, 2, 3]) {
    const rng = createRng(`clock-model-${seed}`)
    const clock = createVirtualClock()
    const got: number[] = []
    const model = new Map<number, { at: number, seq: number, id: number, cleared: boolean }>()
    const handles = new Map<number, unknown>()
    let seq = 0
    let nextId = 0

    const add = (delay: number): void => {
      const id = nextId++
      const at = clock.now() + Math.max(0, delay)
      model.set(id, { at, seq: seq++, id, cleared: false })
      handles.set(id, clock.setTimeout(() => {
        got.push(id)
        handles.delete(id)
        // Events sometimes schedule and clear others, while the clock runs.
        if (rng.chance(0.3)) add(rng.int(50) - 5)
        if (rng.chance(0.3)) {
          const victim = rng.int(nextId)
          if (handles.has(victim)) clear(victim)
        }
      }, delay))
    }
    const clear = (id: number): void => {
      clock.clearTimeout(handles.get(id))
      handles.delete(id)
      const m = model.get(id)
      if (m !== undefined) m.cleared = true
    }

    for (let round = 0; round < 20; round++) {
      const adds = rng.int(3000)
      for (let i = 0; i < adds; i++) add(rng.int(500) - 10)
      const ids = [...handles.keys()]
      rng.shuffle(ids)
      for (const id of ids.slice(0, Math.floor(ids.length * rng.next()))) clear(id)
      t.is(clock.pending(), handles.size)
      clock.runFor(rng.int(300))
    }
    clock.runFor(10_000)
    const expected = [...model.values()].filter(e => !e.cleared).sort((a, b) => a.at - b.at || a.seq - b.seq).map(e => e.id)
    t.deepEqual(got, expected, `seed ${seed}`)
    t.is(clock.pending(), 0)
  }
})

test('mass clearing from inside an event (which compacts the queue) keeps the order', t => {
  const clock = createVirtualClock()
  const rng = createRng('mass-clear')
  const ran: number[] = []
  const times: number[] = []
  const handles: unknown[] = []
  for (let i = 0; i < 20_000; i++) {
    times.push(1 + rng.int(1_000))
    handles.push(clock.schedule(times[i] as number, () => ran.push(i)))
  }
  const victims = new Set<number>()
  clock.schedule(0, () => {
    for (let i = 0; i < handles.length; i++) {
      if (!rng.chance(0.7)) continue
      victims.add(i)
      clock.clearTimeout(handles[i])
    }
    // Scheduled after the compaction: runs after everything else due at 500.
    times.push(500)
    clock.schedule(500, () => ran.push(20_000))
  })
  t.is(clock.runUntil(2_000), 1 + 20_001 - victims.size)
  t.is(clock.pending(), 0)
  const expected = times.map((at, i) => ({ at, i })).filter(e => !victims.has(e.i))
    .sort((a, b) => a.at - b.at || a.i - b.i).map(e => e.i)
  t.deepEqual(ran, expected)
})

test('throughput (informational, not asserted)', t => {
  // 1 million timers scheduled up front, then run.
  {
    const clock = createVirtualClock()
    const rng = createRng('throughput')
    let fired = 0
    const fn = (): void => { fired++ }
    const start = process.hrtime.bigint()
    for (let i = 0; i < 1_000_000; i++) clock.setTimeout(fn, rng.next() * 60_000)
    const scheduled = process.hrtime.bigint()
    clock.runUntil(60_000)
    const end = process.hrtime.bigint()
    t.is(fired, 1_000_000)
    const s = Number(end - scheduled) / 1e9
    t.log(`1M bulk timers: schedule ${(Number(scheduled - start) / 1e6).toFixed(0)} ms, run ${(s * 1e3).toFixed(0)} ms → ${(1e6 / s / 1e6).toFixed(2)}M events/s`)
  }
  // Steady state like a simulated cluster: 1,000 hosts each ticking every ~30 ms and arming
  // a timeout per tick that is usually cleared, ~3M events in all.
  {
    const clock = createVirtualClock()
    const rng = createRng('steady')
    let fired = 0
    for (let h = 0; h < 1_000; h++) {
      let timeout: unknown
      const tick = (): void => {
        fired++
        clock.clearTimeout(timeout)
        timeout = clock.setTimeout(() => { fired++ }, 40)
        clock.setTimeout(tick, 25 + rng.next() * 10)
      }
      clock.setTimeout(tick, rng.next() * 30)
    }
    const start = process.hrtime.bigint()
    clock.runUntil(90_000)
    const s = Number(process.hrtime.bigint() - start) / 1e9
    t.true(fired > 0)
    t.log(`steady state: ${fired} events in ${(s * 1e3).toFixed(0)} ms → ${(fired / s / 1e6).toFixed(2)}M events/s (pending ${clock.pending()})`)
  }
})
