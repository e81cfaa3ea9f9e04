import test from 'ava'
import type { MemberView, RowView } from '../../src/api/control-api.js'
import type { RoutesView } from '../../src/proxy/data-plane-view.js'
import { buildSnapshot, snapshotKey, type StatusInputs } from '../../src/status-page/snapshot.js'
import { serviceRow } from '../helpers/service-row.js'

const id = (c: string): string => c.repeat(64)
const A = id('a')
const B = id('b')
const C = id('c')

function member (hostId: string, name: string, over: Partial<MemberView> = {}): MemberView {
  return { hostId, name, version: '0.1.0', region: 'fra', addresses: [], state: 'alive', self: false, incarnation: 1, rttMs: 1.5, changedAt: 1000, path: 'wireguard', ...over }
}

function row (table: string, key: string, data: Record<string, unknown> | null, over: Partial<RowView> = {}): RowView {
  return { table, key, owner: A, version: 1, deleted: data === null, ownerDead: false, data, ...over }
}

const machine = (mid: string, host: string, app: string, state = 'started'): Record<string, unknown> =>
  ({ id: mid, app, host, state, configVersion: 1, health: 'passing', name: `${app}-${mid.slice(0, 4)}` })

function routes (apps: Array<{ app: string, counters: Record<string, number> }>): RoutesView {
  return { apps: apps.map(a => ({ app: a.app, hostnames: [`${a.app}.roost.internal`], ports: [], concurrency: null, machines: [], counters: a.counters })) } as unknown as RoutesView
}

function inputs (over: Partial<StatusInputs> = {}): StatusInputs {
  return {
    members: [member(B, 'h2', { state: 'dead', path: 'hyperswarm' }), member(A, 'h1', { self: true, path: 'self' })],
    hosts: [row('hosts', B, { id: B, name: 'h2', region: 'fra', draining: true })],
    machines: [
      row('machines', 'm2', machine('m2', B, 'web', 'stopped'), { ownerDead: true }),
      row('machines', 'm1', machine('m1', A, 'web')),
      row('machines', 'm3', machine('m3', C, 'worker')),
      row('machines', 'gone', null)
    ],
    services: [row('services', 'web', serviceRow('web', 443, ['tls', 'http'])), row('services', 'old', null)],
    routes: routes([{ app: 'web', counters: { '2xx': 40, '5xx': 2, PR01: 1, connected: 0 } }]),
    ...over
  }
}

test('a snapshot puts membership, machines per host and apps with routes and counts together, sorted by name', t => {
  const s = buildSnapshot(inputs(), 5000)
  t.is(s.at, 5000)
  t.deepEqual(s.self, { hostId: A, name: 'h1', region: 'fra' })
  t.deepEqual(s.hosts.map(h => [h.name, h.state, h.path]), [['', 'unknown', '-'], ['h1', 'alive', 'self'], ['h2', 'dead', 'hyperswarm']])
  const [unknown, h1, h2] = s.hosts
  t.is(h1?.rttMs, null, 'no RTT to itself')
  t.is(h2?.rttMs, 1.5)
  t.true(h2?.draining, 'draining comes from the hosts row')
  t.deepEqual(h1?.machines.map(m => [m.id, m.state, m.health, m.stale]), [['m1', 'started', 'passing', false]])
  t.deepEqual(h2?.machines.map(m => [m.id, m.state, m.stale]), [['m2', 'stopped', true]], 'a dead host\'s machines are marked last known')
  t.is(unknown?.hostId, C, 'a host only machines name still shows, as unknown')
  t.deepEqual(s.apps.map(a => a.app), ['web', 'worker'], 'deleted services rows and machines are left out')
  const web = s.apps[0]
  t.deepEqual(web?.routes, [{ port: 443, internalPort: 8080, handlers: ['tls', 'http'], forceHttps: false }])
  t.deepEqual(web?.hostnames, ['web.roost.internal'])
  t.is(web?.machines, 2)
  t.is(web?.requests, 43)
  t.is(web?.errors, 3, '5xx and router errors')
  t.deepEqual(s.apps[1], { app: 'worker', hostnames: [], routes: [], machines: 1, requests: 0, errors: 0 })
})

test('without the router\'s view the apps still show, with their rows\' hostnames and no counts', t => {
  const s = buildSnapshot(inputs({ routes: null, services: [row('services', 'web', { ...serviceRow('web'), hostnames: ['example.com'] })] }), 1)
  t.deepEqual(s.apps.find(a => a.app === 'web'), { app: 'web', hostnames: ['example.com'], routes: [{ port: 443, internalPort: 8080, handlers: ['tls', 'http'], forceHttps: false }], machines: 2, requests: 0, errors: 0 })
})

test('the key of a snapshot ignores what moves on its own and changes with what the replica says', t => {
  const base = buildSnapshot(inputs(), 1)
  const figures = buildSnapshot(inputs({ members: inputs().members.map(m => ({ ...m, rttMs: 9 })), routes: routes([{ app: 'web', counters: { '2xx': 99 } }]) }), 2)
  t.is(snapshotKey(figures), snapshotKey(base))
  const suspect = buildSnapshot(inputs({ members: inputs().members.map(m => m.name === 'h2' ? { ...m, state: 'suspect' } : m) }), 3)
  t.not(snapshotKey(suspect), snapshotKey(base))
  const moved = buildSnapshot(inputs({ machines: [row('machines', 'm1', machine('m1', A, 'web', 'stopping'))] }), 4)
  t.not(snapshotKey(moved), snapshotKey(base))
})
