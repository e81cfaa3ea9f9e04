import test from 'ava'
import { pickMachines } from '../../src/proxy/balancer.js'
import { app, H2, H3, host, machine, service, table } from './fixtures.js'

const none = (): number => 0

test('the local machine comes first while it is under its soft limit', t => {
  const local = machine()
  const remote = machine({ host: H2, local: false, endpoint: null })
  const a = app([remote, local])
  const pick = pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: none })
  t.deepEqual(pick.order.map(c => c.machine.id), [local.id, remote.id])
})

test('over its soft limit a machine goes after every machine under it; at its hard limit it is no candidate', t => {
  const local = machine()
  const remote = machine({ host: H2, local: false, endpoint: null })
  const a = app([local, remote])
  const soft = pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: id => id === local.id ? 2 : 0 })
  t.deepEqual(soft.order.map(c => c.machine.id), [remote.id, local.id])
  t.false(soft.allOverSoft)
  const hard = pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: id => id === local.id ? 4 : 3 })
  t.deepEqual(hard.order.map(c => c.machine.id), [remote.id])
  t.true(hard.allOverSoft, 'the only candidate left is over its soft limit')
  const full = pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: () => 4 })
  t.is(full.order.length, 0)
  t.true(full.atHardLimit)
})

test('over the soft limit, another machine is wanted only when none is on its way up', t => {
  const busy = machine()
  const over = (id: string): number => id === busy.id ? 2 : 0
  const alone = app([busy, machine({ state: 'stopped', endpoint: null })])
  t.true(pickMachines({ table: table([alone]), app: alone, service: alone.services[0]!, inflight: over }).allOverSoft)
  const booting = app([busy, machine({ state: 'starting', endpoint: null })])
  t.false(pickMachines({ table: table([booting]), app: booting, service: booting.services[0]!, inflight: over }).allOverSoft, 'one is starting')
  const warming = app([busy, machine({ health: 'warning' })])
  const pick = pickMachines({ table: table([warming]), app: warming, service: warming.services[0]!, inflight: over })
  t.deepEqual(pick.order.map(c => c.machine.id), [busy.id], 'a machine waiting for its first check serves only when none passes')
  t.false(pick.allOverSoft, 'but it is capacity on its way')
})

test('load other routers report counts towards the limits of machines elsewhere; a local machine\'s own count is exact', t => {
  const busy = machine({ host: H2, local: false, endpoint: null, remoteInflight: 4 })
  const idle = machine({ host: H3, local: false, endpoint: null })
  const a = app([busy, idle])
  t.deepEqual(pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: none }).order.map(c => c.machine.id), [idle.id])
  const local = machine({ remoteInflight: 4 })
  const b = app([local])
  t.deepEqual(pickMachines({ table: table([b]), app: b, service: b.services[0]!, inflight: none }).order.map(c => c.machine.id), [local.id], 'reports about a local machine count it twice: its traffic came through here')
  t.true(pickMachines({ table: table([b]), app: b, service: b.services[0]!, inflight: () => 4 }).atHardLimit)
})

test('closest next: this region before others, then by RTT band; least loaded among equals', t => {
  const far = machine({ host: H3, local: false, region: 'syd', endpoint: null })
  const near = machine({ host: H2, local: false, endpoint: null })
  const a = app([far, near])
  const tb = table([a], [host(H2, { rttMs: 30 }), host(H3, { rttMs: 1 })])
  t.deepEqual(pickMachines({ table: tb, app: a, service: a.services[0]!, inflight: none }).order.map(c => c.machine.id), [near.id, far.id], 'same region wins over a lower RTT elsewhere')
  const x = machine({ host: H2, local: false, endpoint: null })
  const y = machine({ host: H3, local: false, endpoint: null })
  const b = app([x, y])
  const tb2 = table([b], [host(H2, { rttMs: 1 }), host(H3, { rttMs: 1.5 })])
  t.deepEqual(pickMachines({ table: tb2, app: b, service: b.services[0]!, inflight: id => id === x.id ? 1 : 0 }).order.map(c => c.machine.id), [y.id, x.id], 'same band: the least loaded first')
  const tb3 = table([b], [host(H2, { rttMs: 1 }), host(H3, { rttMs: 40 })])
  t.deepEqual(pickMachines({ table: tb3, app: b, service: b.services[0]!, inflight: id => id === x.id ? 1 : 0 }).order.map(c => c.machine.id), [x.id, y.id], 'a closer band wins over load below the soft limit')
})

test('ties are broken at random', t => {
  const x = machine({ host: H2, local: false, endpoint: null })
  const y = machine({ host: H3, local: false, endpoint: null })
  const a = app([x, y])
  const firsts = new Set<string>()
  for (let i = 0; i < 50; i++) firsts.add(pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: none }).order[0]!.machine.id)
  t.is(firsts.size, 2)
})

test('only started, uncordoned machines whose checks pass, on live hosts with a backhaul', t => {
  const ok = machine({ host: H2, local: false, endpoint: null })
  const critical = machine({ health: 'critical' })
  const cordoned = machine({ cordoned: true })
  const stopped = machine({ state: 'stopped', endpoint: null })
  const suspended = machine({ state: 'suspended', endpoint: null })
  const suspectHost = machine({ host: H3, local: false, endpoint: null })
  const a = app([ok, critical, cordoned, stopped, suspended, suspectHost])
  const pick = pickMachines({ table: table([a], [host(H2), host(H3, { state: 'suspect' })]), app: a, service: a.services[0]!, inflight: none })
  t.deepEqual(pick.order.map(c => c.machine.id), [ok.id])
  t.is(pick.startable, 2)
})

test('when nothing else is left, a machine whose only fault is a suspect host is tried rather than an error; a dead host\'s never', t => {
  const onSuspect = machine({ host: H3, local: false, endpoint: null })
  const onDead = machine({ host: H2, local: false, endpoint: null })
  const criticalOnSuspect = machine({ host: H3, local: false, endpoint: null, health: 'critical' })
  const a = app([onSuspect, onDead, criticalOnSuspect])
  const hosts = [host(H2, { state: 'dead' }), host(H3, { state: 'suspect' })]
  const pick = pickMachines({ table: table([a], hosts), app: a, service: a.services[0]!, inflight: none })
  t.deepEqual(pick.order.map(c => c.machine.id), [onSuspect.id])
  const excluded = pickMachines({ table: table([a], hosts), app: a, service: a.services[0]!, inflight: none, exclude: new Set([onSuspect.id]) })
  t.deepEqual(excluded.order, [], 'once tried and failed, nothing is left')
  const withLocal = app([onSuspect, machine()])
  const local = pickMachines({ table: table([withLocal], hosts), app: withLocal, service: withLocal.services[0]!, inflight: none })
  t.is(local.order.length, 1, 'a healthy machine elsewhere wins: the suspect host is not tried')
  t.not(local.order[0]?.machine.id, onSuspect.id)
})

test('machines on their way up or down are counted apart: requests wait for them rather than fail', t => {
  const starting = machine({ state: 'starting', endpoint: null })
  const suspending = machine({ state: 'suspending', cordoned: true })
  const stopping = machine({ state: 'stopping' })
  const stopped = machine({ state: 'stopped', cordoned: true, endpoint: null })
  const a = app([starting, suspending, stopping, stopped])
  const pick = pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: none })
  t.deepEqual(pick.order, [])
  t.is(pick.transitioning, 3)
  t.is(pick.startable, 0, 'a cordoned stopped machine is not for autostart')
  t.false(pick.atHardLimit)
})

test('machines still waiting for their first check serve only when none passes', t => {
  const waiting = machine({ health: 'warning' })
  const passing = machine({ host: H2, local: false, endpoint: null })
  const a = app([waiting, passing])
  t.deepEqual(pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: none }).order.map(c => c.machine.id), [passing.id])
  const b = app([waiting])
  const pick = pickMachines({ table: table([b]), app: b, service: b.services[0]!, inflight: none })
  t.deepEqual(pick.order.map(c => c.machine.id), [waiting.id])
  t.is(pick.pending, 1)
})

test('client hints: a preferred region first, a forced instance only, a replay region strictly', t => {
  const local = machine()
  const syd = machine({ host: H2, local: false, region: 'syd', endpoint: null })
  const a = app([local, syd])
  const tb = table([a])
  t.is(pickMachines({ table: tb, app: a, service: a.services[0]!, inflight: none, hints: { preferRegion: 'syd' } }).order[0]!.machine.id, syd.id)
  t.deepEqual(pickMachines({ table: tb, app: a, service: a.services[0]!, inflight: none, hints: { forceInstance: syd.id } }).order.map(c => c.machine.id), [syd.id])
  t.deepEqual(pickMachines({ table: tb, app: a, service: a.services[0]!, inflight: none, hints: { onlyRegion: 'lhr' } }).order, [])
  t.deepEqual(pickMachines({ table: tb, app: a, service: a.services[0]!, inflight: none, exclude: new Set([local.id]) }).order.map(c => c.machine.id), [syd.id])
})

test('a service on another guest port needs namespace networking', t => {
  const fwd = machine({ guestPort: 8080 })
  const ns = machine({ guestPort: 8080, namespaced: true })
  const a = app([fwd, ns], service({ internalPort: 9000 }))
  t.deepEqual(pickMachines({ table: table([a]), app: a, service: a.services[0]!, inflight: none }).order.map(c => c.machine.id), [ns.id])
})
