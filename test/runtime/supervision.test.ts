import test, { type ExecutionContext } from 'ava'
import { Type } from '@sinclair/typebox'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { ActorCrashedError, ActorNotFoundError, ActorStoppedError } from '../../src/errors/errors.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import type { Clock } from '../../src/runtime/clock.js'
import {
  createSupervisor, DEFAULT_BACKOFF, DEFAULT_MAX_RESTARTS, DEFAULT_RESTART_WINDOW_MS, policies, type CrashPolicy
} from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { ActorSystem } from '../../src/runtime/system.js'
import { memoryCluster } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'

const counterProtocol = defineActorProtocol('counter', {
  'counter.inc': { body: Type.Object({}), reply: Type.Integer(), from: 'member' },
  'counter.get': { body: Type.Object({}), reply: Type.Integer(), from: 'member' },
  'counter.boom': { body: Type.Object({}), reply: Type.Null(), from: 'member' }
})
type CounterSpec = typeof counterProtocol.specs

const parentProtocol = defineActorProtocol('parent', {
  'parent.generation': { body: Type.Object({}), reply: Type.Integer(), from: 'member' }
})

interface Probe {
  def: ActorDefinition<CounterSpec>
  /** Times create() ran (spawn + restarts). */
  created: () => number
  /** Times a behaviour's stop() hook ran. */
  stopped: () => number
}

function counter (policy: CrashPolicy): Probe {
  let created = 0
  let stopped = 0
  const def = defineActor({
    protocol: counterProtocol,
    policy,
    create: () => {
      created++
      let n = 0
      return {
        handlers: {
          'counter.inc': () => ++n,
          'counter.get': () => n,
          'counter.boom': () => { throw new Error('boom') }
        },
        stop: () => { stopped++ }
      }
    }
  })
  return { def, created: () => created, stopped: () => stopped }
}

async function system (t: ExecutionContext): Promise<ActorSystem> {
  // Hold the event loop open while a test waits on backoff timers (in case they are unref'd).
  const keep = setInterval(() => {}, 60_000)
  t.teardown(() => { clearInterval(keep) })
  const c = await memoryCluster(1)
  t.teardown(c.stop)
  const s = c.systems[0]
  if (s === undefined) throw new Error('no system')
  return s
}

test('restart: the asker gets ActorCrashedError, state is rebuilt by create(), later messages are handled', async t => {
  const s = await system(t)
  const c = counter(policies.restart({ backoff: { initialMs: 20 } }))
  const r = s.spawn(null, 'counter', c.def)
  t.is(await s.ask(r, { type: 'counter.inc' }), 1)
  t.is(await s.ask(r, { type: 'counter.inc' }), 2)

  const crash = s.ask(r, { type: 'counter.boom' })
  // Sent while the crash is being handled (and during the backoff): queued, then handled by the new instance.
  const afterCrash = s.ask(r, { type: 'counter.inc' })
  const err = await t.throwsAsync(crash, { instanceOf: ActorCrashedError })
  t.is(err?.code, 'ERR_ACTOR_CRASHED')
  t.like(err?.details, { path: '/counter', type: 'counter.boom' })
  t.is(await afterCrash, 1)
  t.is(await s.ask(r, { type: 'counter.get' }), 1)
  t.is(c.created(), 2)
  t.is(s.stats.crashes, 1)
  t.is(s.stats.restarts, 1)
  t.true(s.has('/counter'))
})

test('restart: every backoff restart is counted in stats.restarts', async t => {
  const s = await system(t)
  const c = counter(policies.restart({ backoff: { initialMs: 1, factor: 2 }, maxRestarts: 10 }))
  const r = s.spawn(null, 'counter', c.def)
  for (let i = 1; i <= 3; i++) {
    await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
    t.is(await s.ask(r, { type: 'counter.inc' }), 1, `fresh state after crash ${i}`)
    t.is(s.stats.restarts, i)
  }
  t.is(c.created(), 4)
})

test('restart: the stop() hook of the old behaviour runs on restart', async t => {
  const s = await system(t)
  const c = counter(policies.restart({ backoff: { initialMs: 0 } }))
  const r = s.spawn(null, 'counter', c.def)
  t.is(c.stopped(), 0)
  await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  t.is(await s.ask(r, { type: 'counter.inc' }), 1)
  await retry(() => c.stopped() === 1, { what: 'stop hook on restart' })
  t.is(c.stopped(), 1)
})

test('restart exhausted (default onExhausted) stops the actor without a fatal', async t => {
  const s = await system(t)
  let fatal: Error | undefined
  s.onFatal((e) => { fatal = e })
  const c = counter(policies.restart({ backoff: { initialMs: 0 }, maxRestarts: 1 }))
  const r = s.spawn(null, 'counter', c.def)
  await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  t.is(await s.ask(r, { type: 'counter.inc' }), 1)
  await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  await retry(() => !s.has('/counter'), { what: 'actor stopped' })
  await t.throwsAsync(s.ask(r, { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
  t.is(s.stats.restarts, 1)
  t.is(fatal, undefined)
})

test('resume: state is kept after a crash', async t => {
  const s = await system(t)
  const c = counter(policies.resume())
  const r = s.spawn(null, 'counter', c.def)
  t.is(await s.ask(r, { type: 'counter.inc' }), 1)
  t.is(await s.ask(r, { type: 'counter.inc' }), 2)
  await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  t.is(await s.ask(r, { type: 'counter.inc' }), 3)
  t.is(c.created(), 1)
  t.is(c.stopped(), 0)
  t.is(s.stats.crashes, 1)
  t.is(s.stats.restarts, 0)
})

test('stop: the actor is gone, queued asks get ActorStoppedError, later asks ActorNotFoundError; stop() hook runs', async t => {
  const s = await system(t)
  const c = counter(policies.stop())
  const r = s.spawn(null, 'counter', c.def)
  t.is(await s.ask(r, { type: 'counter.inc' }), 1)
  const crash = s.ask(r, { type: 'counter.boom' })
  const queued = s.ask(r, { type: 'counter.get' })
  await t.throwsAsync(crash, { instanceOf: ActorCrashedError })
  const stoppedErr = await t.throwsAsync(queued, { instanceOf: ActorStoppedError })
  t.is(stoppedErr?.code, 'ERR_ACTOR_STOPPED')
  t.false(s.has('/counter'))
  t.deepEqual(s.actors(), [])
  await t.throwsAsync(s.ask(r, { type: 'counter.inc' }), { instanceOf: ActorNotFoundError })
  await retry(() => c.stopped() === 1, { what: 'stop hook' })
  t.is(c.created(), 1)
  t.is(s.stats.restarts, 0)
})

test('stopActor stops the actor and its descendants: stop() hooks run, later asks get ActorNotFoundError', async t => {
  const s = await system(t)
  const grandchild = counter(policies.resume())
  let parentStops = 0
  let childStops = 0
  const child = defineActor({
    protocol: parentProtocol,
    policy: policies.resume(),
    create: (ctx) => {
      ctx.spawn('leaf', grandchild.def)
      return { handlers: { 'parent.generation': () => 1 }, stop: () => { childStops++ } }
    }
  })
  const parent = defineActor({
    protocol: parentProtocol,
    policy: policies.resume(),
    create: (ctx) => {
      ctx.spawn('child', child)
      return { handlers: { 'parent.generation': () => 1 }, stop: () => { parentStops++ } }
    }
  })
  s.spawn(null, 'parent', parent)
  t.deepEqual(s.actors(), ['/parent', '/parent/child', '/parent/child/leaf'])
  const leaf = ref<CounterSpec>(s.hostId, '/parent/child/leaf')
  t.is(await s.ask(leaf, { type: 'counter.inc' }), 1)

  s.stopActor('/parent')
  t.false(s.has('/parent/child'))
  t.false(s.has('/parent/child/leaf'))
  await retry(() => parentStops === 1 && childStops === 1 && grandchild.stopped() === 1, { what: 'stop hooks' })
  t.deepEqual(s.actors(), [])
  await t.throwsAsync(s.ask(leaf, { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
})

test('stop policy on a parent stops its children too', async t => {
  const s = await system(t)
  const child = counter(policies.resume())
  const parent = defineActor({
    protocol: counterProtocol,
    policy: policies.stop(),
    create: (ctx) => {
      ctx.spawn('child', child.def)
      return { handlers: { 'counter.inc': () => 1, 'counter.get': () => 1, 'counter.boom': () => { throw new Error('boom') } } }
    }
  })
  const p = s.spawn(null, 'parent', parent)
  await t.throwsAsync(s.ask(p, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  await retry(() => s.actors().length === 0, { what: 'parent and child gone' })
  await retry(() => child.stopped() === 1, { what: 'child stop hook' })
  await t.throwsAsync(s.ask(ref<CounterSpec>(s.hostId, '/parent/child'), { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
})

/** A parent (restart policy) that spawns an escalating counter as its child in create(). */
function family (): { parent: ActorDefinition<typeof parentProtocol.specs>, child: Probe, generations: () => number } {
  const child = counter(policies.escalate())
  let generations = 0
  const parent = defineActor({
    protocol: parentProtocol,
    policy: policies.restart({ backoff: { initialMs: 0 } }),
    create: (ctx) => {
      const generation = ++generations
      ctx.spawn('child', child.def)
      return { handlers: { 'parent.generation': () => generation } }
    }
  })
  return { parent, child, generations: () => generations }
}

test('escalate: the parent (restart) is rebuilt and re-spawns its child, whose state resets', async t => {
  const s = await system(t)
  const f = family()
  const p = s.spawn(null, 'parent', f.parent)
  const child = ref<CounterSpec>(s.hostId, '/parent/child')
  t.is(await s.ask(p, { type: 'parent.generation' }), 1)
  t.is(await s.ask(child, { type: 'counter.inc' }), 1)
  t.is(await s.ask(child, { type: 'counter.inc' }), 2)

  await t.throwsAsync(s.ask(child, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  await retry(async () => await s.ask(p, { type: 'parent.generation' }) === 2, { what: 'parent rebuilt' })
  // A new child: its count starts again from zero.
  t.is(await s.ask(child, { type: 'counter.inc' }), 1)
  t.is(f.generations(), 2)
  t.is(f.child.created(), 2)
  t.is(s.stats.restarts, 1)
  t.deepEqual(s.actors(), ['/parent', '/parent/child'])
  await retry(() => f.child.stopped() === 1, { what: 'old child stop hook' })
  t.pass()
})

test('escalate at a root actor calls onFatal and stops the actor', async t => {
  const s = await system(t)
  const fatals: Error[] = []
  s.onFatal((e) => { fatals.push(e) })
  const c = counter(policies.escalate())
  const r = s.spawn(null, 'counter', c.def)
  await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  await retry(() => fatals.length === 1, { what: 'onFatal' })
  t.is(fatals[0]?.message, 'boom')
  await retry(() => !s.has('/counter'), { what: 'actor stopped' })
  await t.throwsAsync(s.ask(r, { type: 'counter.get' }), { instanceOf: ActorNotFoundError })
})

test('restart exhausted with onExhausted escalate at a root actor calls onFatal', async t => {
  const s = await system(t)
  const fatals: Error[] = []
  s.onFatal((e) => { fatals.push(e) })
  const c = counter(policies.restart({ backoff: { initialMs: 0 }, maxRestarts: 2, onExhausted: 'escalate' }))
  const r = s.spawn(null, 'counter', c.def)
  for (let i = 0; i < 2; i++) {
    await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
    t.is(await s.ask(r, { type: 'counter.inc' }), 1)
  }
  t.is(fatals.length, 0)
  await t.throwsAsync(s.ask(r, { type: 'counter.boom' }), { instanceOf: ActorCrashedError })
  await retry(() => fatals.length === 1, { what: 'onFatal' })
  t.is(s.stats.restarts, 2)
  t.is(c.created(), 3)
})

// --- createSupervisor, with a clock the test moves by hand ---

function fakeClock (): Clock & { advance: (ms: number) => void } {
  let time = 1_000_000
  return {
    now: () => time,
    setTimeout: () => { throw new Error('createSupervisor must not set timers') },
    clearTimeout: () => {},
    advance: (ms) => { time += ms }
  }
}

function delays (decide: () => ReturnType<ReturnType<typeof createSupervisor>['decide']>, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const d = decide()
    out.push(d.action === 'restart' ? d.delayMs : -1)
  }
  return out
}

test('createSupervisor: backoff grows by factor and is capped at maxMs', t => {
  const sup = createSupervisor(policies.restart({ backoff: { initialMs: 10, factor: 3, maxMs: 200 }, maxRestarts: 100 }), fakeClock())
  t.deepEqual(delays(sup.decide, 6), [10, 30, 90, 200, 200, 200])
  t.is(sup.restarts(), 6)
})

test('createSupervisor: default backoff is 10 ms doubling up to 5 s', t => {
  t.deepEqual(DEFAULT_BACKOFF, { initialMs: 10, maxMs: 5_000, factor: 2 })
  const sup = createSupervisor(policies.restart({ maxRestarts: 20 }), fakeClock())
  t.deepEqual(delays(sup.decide, 11), [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5000, 5000])
})

test('createSupervisor: a partial backoff keeps the other defaults', t => {
  const sup = createSupervisor(policies.restart({ backoff: { factor: 10 } }), fakeClock())
  t.deepEqual(delays(sup.decide, 4), [10, 100, 1000, 5000])
})

test('createSupervisor: past maxRestarts within the window the onExhausted decision is taken', t => {
  const clock = fakeClock()
  const stop = createSupervisor(policies.restart({ maxRestarts: 3, withinMs: 1000 }), clock)
  const escalate = createSupervisor(policies.restart({ maxRestarts: 3, withinMs: 1000, onExhausted: 'escalate' }), clock)
  for (let i = 0; i < 3; i++) {
    t.is(stop.decide().action, 'restart')
    t.is(escalate.decide().action, 'restart')
    clock.advance(100)
  }
  t.deepEqual(stop.decide(), { action: 'stop' })
  t.deepEqual(escalate.decide(), { action: 'escalate' })
  // Exhaustion is not a restart and adds nothing to the history.
  t.is(stop.restarts(), 3)
  t.deepEqual(escalate.decide(), { action: 'escalate' })
})

test('createSupervisor: default limits are 10 restarts per minute', t => {
  t.is(DEFAULT_MAX_RESTARTS, 10)
  t.is(DEFAULT_RESTART_WINDOW_MS, 60_000)
  const clock = fakeClock()
  const sup = createSupervisor(policies.restart(), clock)
  for (let i = 0; i < 10; i++) { t.is(sup.decide().action, 'restart'); clock.advance(1000) }
  t.is(sup.decide().action, 'stop')
})

test('createSupervisor: restarts older than withinMs are forgotten', t => {
  const clock = fakeClock()
  const sup = createSupervisor(policies.restart({ maxRestarts: 3, withinMs: 1000, backoff: { initialMs: 10, factor: 2 } }), clock)
  t.deepEqual(delays(sup.decide, 1), [10]) // at 0
  clock.advance(10)
  t.deepEqual(delays(sup.decide, 1), [20]) // at 10
  clock.advance(10)
  t.deepEqual(delays(sup.decide, 1), [40]) // at 20
  clock.advance(980) // now 1000: the restart at 0 is exactly withinMs old, still counted
  t.is(sup.decide().action, 'stop')
  clock.advance(5) // now 1005: the restart at 0 is forgotten, two remain
  t.deepEqual(sup.decide(), { action: 'restart', delayMs: 40 })
  t.is(sup.restarts(), 3)
  clock.advance(10_000) // everything is forgotten: the backoff starts over
  t.deepEqual(sup.decide(), { action: 'restart', delayMs: 10 })
  t.is(sup.restarts(), 1)
})

test('createSupervisor: resume, stop and escalate decide the same every time', t => {
  const clock = fakeClock()
  for (const [policy, action] of [[policies.resume(), 'resume'], [policies.stop(), 'stop'], [policies.escalate(), 'escalate']] as const) {
    const sup = createSupervisor(policy, clock)
    for (let i = 0; i < 50; i++) t.deepEqual(sup.decide(), { action })
    t.is(sup.restarts(), 0)
  }
})

test('policies shorthands build the matching policy objects', t => {
  t.deepEqual(policies.resume(), { kind: 'resume' })
  t.deepEqual(policies.stop(), { kind: 'stop' })
  t.deepEqual(policies.escalate(), { kind: 'escalate' })
  t.deepEqual(policies.restart(), { kind: 'restart' })
  t.deepEqual(policies.restart({ maxRestarts: 2, onExhausted: 'escalate' }), { kind: 'restart', maxRestarts: 2, onExhausted: 'escalate' })
})
