import test from 'ava'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import type { CheckResult, HealthCheckSpec } from '../../src/health/check.js'
import { createHealthChecker } from '../../src/health/checker.js'
import { silentLogger } from '../../src/log/logger.js'
import { createVirtualClock } from '../helpers/sim/virtual-clock.js'
import { retry } from '../helpers/retry.js'
import { httpServer } from './servers.js'

const spec: HealthCheckSpec = { type: 'tcp', host: '127.0.0.1', port: 1, intervalMs: 1000, timeoutMs: 500, gracePeriodMs: 3000 }

/** Lets probe promises and the checker's continuations run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
}

/** A fake probe whose answers the test sets; counts its calls. */
function scriptedProbe (initial: CheckResult['status']) {
  const state = { next: initial, calls: 0 }
  return {
    state,
    probe: async (): Promise<CheckResult> => {
      state.calls++
      return { status: state.next, output: `${state.next} #${state.calls}` }
    }
  }
}

test('a check is warning until it passes within grace, run again after 50, 100, 200 … ms meanwhile; then passing, at its interval', async t => {
  const clock = createVirtualClock()
  const { state, probe } = scriptedProbe('critical')
  const results: Array<[string, string, number]> = []
  const checker = createHealthChecker({ checks: { web: spec } }, {
    logger: silentLogger(), clock, probe, onResult: (name, r, n) => results.push([name, r.status, n])
  })
  t.is(checker.statuses().web?.status, 'warning')
  checker.start()
  clock.runFor(0)
  await settle()
  t.is(state.calls, 1)
  t.like(checker.statuses().web, { status: 'warning', output: 'critical #1', consecutiveFailures: 0 })
  for (const [wait, calls] of [[49, 1], [1, 2], [100, 3], [200, 4], [400, 5]] as const) {
    clock.runFor(wait)
    await settle()
    t.is(state.calls, calls, `at ${clock.now()} ms`)
  }
  t.is(checker.statuses().web?.status, 'warning')
  t.deepEqual(results, [], 'failures within grace are not reported')
  state.next = 'passing'
  clock.runFor(799)
  await settle()
  t.is(state.calls, 5)
  clock.runFor(1)
  await settle()
  t.like(checker.statuses().web, { status: 'passing', output: 'passing #6', consecutiveFailures: 0, lastCheckedAt: 1550 })
  t.deepEqual(results, [['web', 'passing', 0]])
  // Grace ended with the first pass: a failure now counts even before gracePeriodMs, and runs keep to the interval.
  state.next = 'critical'
  clock.runFor(999)
  await settle()
  t.is(state.calls, 6)
  clock.runFor(1)
  await settle()
  t.like(checker.statuses().web, { status: 'critical', consecutiveFailures: 1 })
  clock.runFor(1000)
  await settle()
  t.like(checker.statuses().web, { status: 'critical', consecutiveFailures: 2 })
  t.deepEqual(results.slice(1), [['web', 'critical', 1], ['web', 'critical', 2]])
  checker.stop()
})

test('failures after the grace period are critical and counted', async t => {
  const clock = createVirtualClock()
  const { state, probe } = scriptedProbe('critical')
  const seen: number[] = []
  const checker = createHealthChecker({ checks: { web: spec }, onResult: (_n, _r, failures) => seen.push(failures) }, { logger: silentLogger(), clock, probe })
  checker.start()
  // Startup retries at 0, 50, 150, 350, 750, then the interval caps them: 1550, 2550 (all within grace), 3550, 4550, 5550.
  for (const wait of [0, 50, 100, 200, 400, 800, 1000, 1000, 1000, 1000]) {
    clock.runFor(wait)
    await settle()
  }
  t.is(state.calls, 10)
  t.deepEqual(seen, [1, 2, 3])
  t.like(checker.statuses().web, { status: 'critical', consecutiveFailures: 3 })
  state.next = 'passing'
  clock.runFor(1000)
  await settle()
  t.like(checker.statuses().web, { status: 'passing', consecutiveFailures: 0 })
  t.deepEqual(seen, [1, 2, 3, 0])
  checker.stop()
})

test('start and stop are idempotent; stop cancels runs; start again resets', async t => {
  const clock = createVirtualClock()
  const { state, probe } = scriptedProbe('passing')
  const checker = createHealthChecker({ checks: { a: spec, b: { ...spec, intervalMs: 500 } } }, { logger: silentLogger(), clock, probe })
  checker.stop()
  checker.start()
  checker.start()
  clock.runFor(0)
  await settle()
  t.is(state.calls, 2)
  for (let i = 0; i < 2; i++) {
    clock.runFor(500)
    await settle()
  }
  t.is(state.calls, 5, 'a once more, b twice more')
  checker.stop()
  checker.stop()
  t.is(clock.pending(), 0)
  clock.runFor(5000)
  await settle()
  t.is(state.calls, 5)
  t.is(checker.statuses().a?.status, 'passing')
  checker.start()
  t.is(checker.statuses().a?.status, 'warning')
  clock.runFor(0)
  await settle()
  t.is(state.calls, 7)
  checker.stop()
})

test('a result arriving after stop is dropped; a throwing probe counts as critical', async t => {
  const clock = createVirtualClock()
  let release: (r: CheckResult) => void = () => {}
  const checker = createHealthChecker({ checks: { slow: { ...spec, gracePeriodMs: 0 } } }, {
    logger: silentLogger(),
    clock,
    probe: async () => await new Promise<CheckResult>(resolve => { release = resolve })
  })
  checker.start()
  clock.runFor(0)
  checker.stop()
  release({ status: 'passing', output: 'late' })
  await settle()
  t.is(checker.statuses().slow?.status, 'warning')

  const results: string[] = []
  const throwing = createHealthChecker({ checks: { x: { ...spec, gracePeriodMs: 0 } } }, {
    logger: silentLogger(),
    clock,
    probe: async () => { throw new Error('boom') },
    onResult: (_n, r) => results.push(r.output)
  })
  throwing.start()
  clock.runFor(0)
  await settle()
  t.like(throwing.statuses().x, { status: 'critical', output: 'boom', consecutiveFailures: 1 })
  t.deepEqual(results, ['boom'])
  throwing.stop()
})

test('bad specs are rejected with InvalidArgumentError', t => {
  const make = (s: Partial<HealthCheckSpec>) => () => createHealthChecker({ checks: { c: { ...spec, ...s } as HealthCheckSpec } }, { logger: silentLogger() })
  t.throws(make({ port: 0 }), { instanceOf: InvalidArgumentError })
  t.throws(make({ intervalMs: 0 }), { instanceOf: InvalidArgumentError })
  t.throws(make({ timeoutMs: -1 }), { instanceOf: InvalidArgumentError })
  t.throws(make({ type: 'udp' } as unknown as Partial<HealthCheckSpec>), { instanceOf: InvalidArgumentError })
  t.throws(make({ type: 'http', path: 'nope' } as Partial<HealthCheckSpec>), { instanceOf: InvalidArgumentError })
})

test('real clock and real HTTP: a server going 503 turns the check critical', async t => {
  let code = 200
  const server = await httpServer((_req, res) => { res.writeHead(code).end() })
  t.teardown(server.close)
  const failures: number[] = []
  const checker = createHealthChecker({
    checks: { http: { type: 'http', host: '127.0.0.1', port: server.port, path: '/', intervalMs: 50, timeoutMs: 1000, gracePeriodMs: 0 } },
    onResult: (_n, r, n) => { if (r.status === 'critical') failures.push(n) }
  }, { logger: silentLogger() })
  t.teardown(() => { checker.stop() })
  checker.start()
  await retry(() => checker.statuses().http?.status === 'passing', { timeoutMs: 5000, what: 'passing' })
  code = 503
  await retry(() => (checker.statuses().http?.consecutiveFailures ?? 0) >= 2, { timeoutMs: 5000, what: 'two failures' })
  t.regex(checker.statuses().http?.output ?? '', /^HTTP 503 after \d+ ms$/)
  t.deepEqual(failures.slice(0, 2), [1, 2])
})
