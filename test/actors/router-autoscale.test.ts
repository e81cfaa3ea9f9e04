import test from 'ava'
import { machineToStart } from '../../actors/router/autostart.js'
import { isDownSince, machinesToStop, type MachineActivity } from '../../actors/router/autostop.js'
import type { HostRoute, MachineRoute } from '../../src/proxy/route-table.js'
import { appRoute, httpService, machineAt, tableOf } from '../proxy/dp-harness.js'

// The router's autostart and autostop decisions (actors/router/autostart.ts, autostop.ts) on
// route tables like the ones the router compiles; the end-to-end runs are in
// test/integration/router-autoscale.test.ts.

const OTHER = 'b'.repeat(64)
const NOW = 1_000_000
const IDLE_MS = 2_000
const other = (over: Partial<HostRoute> = {}): HostRoute => ({ id: OTHER, name: 'h2', region: 'ams', state: 'alive', rttMs: 1, backhaul: { address: '127.0.0.2', port: 4282 }, ...over })
const m = (id: string, over: Partial<MachineRoute> = {}): MachineRoute => ({ ...machineAt(1000), id, ...over })

function stopInput (machines: MachineRoute[], opts: { min?: number, activity?: Record<string, MachineActivity>, since?: number, busy?: string[], hosts?: HostRoute[] } = {}): Parameters<typeof machinesToStop>[0] {
  const app = appRoute('web', machines, [httpService(8080, { autoStop: 'suspend', minMachinesRunning: opts.min ?? 0 })])
  const table = tableOf([app], { hosts: Object.fromEntries((opts.hosts ?? [other()]).map(h => [h.id, h])) })
  return {
    now: NOW,
    idleMs: IDLE_MS,
    table,
    activity: opts.activity ?? {},
    startedSince: new Map(machines.map(x => [x.id, opts.since ?? NOW - IDLE_MS])),
    busy: new Set(opts.busy ?? [])
  }
}
const ids = (input: Parameters<typeof machinesToStop>[0]): string[] => machinesToStop(input).map(d => `${d.machine.id}:${d.mode}`)

test('autostop takes idle local machines beyond min_machines_running; every host keeps the same ones', t => {
  const machines = [m('m3'), m('m1'), m('m2', { host: OTHER, local: false })]
  t.deepEqual(ids(stopInput(machines, { min: 1 })), ['m3:suspend'], 'm1 (lowest id) is kept; m2 is another host\'s to stop')
  t.deepEqual(ids(stopInput(machines, { min: 0 })), ['m1:suspend', 'm3:suspend'])
  t.deepEqual(ids(stopInput(machines, { min: 3 })), [])
  // The host holding m2 decides the same: it keeps m1 (not its own) and stops m2.
  const seenFromOther = machines.map(x => ({ ...x, local: x.id === 'm2', host: x.id === 'm2' ? 'a'.repeat(64) : OTHER }))
  t.deepEqual(ids(stopInput(seenFromOther, { min: 1 })), ['m2:suspend'])
})

test('autostop leaves machines with traffic, recently started or active, cordoned or already stopping', t => {
  const a = m('m1')
  t.deepEqual(ids(stopInput([a], { activity: { m1: { inflight: 1, backhaulOpen: 0, lastActivity: 0 } } })), [], 'a request in flight')
  t.deepEqual(ids(stopInput([a], { activity: { m1: { inflight: 0, backhaulOpen: 1, lastActivity: 0 } } })), [], 'a backhaul open')
  t.deepEqual(ids(stopInput([a], { activity: { m1: { inflight: 0, backhaulOpen: 0, lastActivity: NOW - 100 } } })), [], 'active 100 ms ago')
  t.deepEqual(ids(stopInput([{ ...a, remoteInflight: 1 }])), [], 'another router has a request in flight')
  t.deepEqual(ids(stopInput([a], { since: NOW - 100 })), [], 'started 100 ms ago')
  t.deepEqual(ids(stopInput([a], { busy: ['m1'] })), [], 'already being stopped')
  t.deepEqual(ids(stopInput([{ ...a, cordoned: true }])), [], 'cordoned')
  t.deepEqual(ids(stopInput([{ ...a, state: 'suspended' }])), [])
  t.deepEqual(ids(stopInput([a], { activity: { m1: { inflight: 0, backhaulOpen: 0, lastActivity: NOW - IDLE_MS } } })), ['m1:suspend'])
})

test('a machine autostop stopped counts as down once its row says so, written after the stop began', t => {
  const since = NOW
  const row = (state: string, updatedAt: number): Parameters<typeof isDownSince>[0] => ({ deleted: false, data: { id: 'm1', state, updatedAt } })
  t.false(isDownSince(row('started', since - 1), since), 'the row from before the stop')
  t.false(isDownSince(row('stopping', since + 5), since))
  t.false(isDownSince(row('suspending', since + 5), since))
  t.true(isDownSince(row('stopped', since + 50), since))
  t.true(isDownSince(row('suspended', since + 50), since))
  t.true(isDownSince(row('failed', since + 50), since))
  t.true(isDownSince(row('started', since + 50), since), 'started again: a suspend that failed')
  t.true(isDownSince(undefined, since), 'gone')
  t.true(isDownSince({ deleted: true, data: null }, since), 'destroyed')
})

test('autostart wakes the closest stopped or suspended machine that is not cordoned, on a live host', t => {
  const remote = m('m1', { host: OTHER, local: false, state: 'suspended', endpoint: null })
  const localStopped = m('m2', { state: 'stopped', endpoint: null })
  const localSuspended = m('m3', { state: 'suspended', endpoint: null })
  const cordoned = m('m0', { state: 'suspended', cordoned: true, endpoint: null })
  const pick = (machines: MachineRoute[], hosts: HostRoute[] = [other()], exclude: string[] = []): string | undefined => {
    const app = appRoute('web', machines, [httpService(8080)])
    const table = tableOf([app], { hosts: Object.fromEntries(hosts.map(h => [h.id, h])) })
    return machineToStart(table, table.apps.web!, new Set(exclude))?.id
  }
  t.is(pick([remote, localStopped, localSuspended, cordoned]), 'm3', 'local first, and a resume before a boot')
  t.is(pick([remote, localStopped, cordoned]), 'm2')
  t.is(pick([remote, cordoned]), 'm1')
  t.is(pick([remote], [other({ state: 'suspect' })]), undefined, 'not on a host gossip doubts')
  t.is(pick([remote, localStopped], [other()], ['m2']), 'm1', 'excluded: a start already tried')
  t.is(pick([remote, localStopped, m('m4', { state: 'starting' })]), undefined, 'one is starting already')
  t.is(pick([localStopped, m('m4', { host: OTHER, local: false, state: 'starting' })], [other({ state: 'dead' })]), 'm2', 'not one on a dead host')
})
