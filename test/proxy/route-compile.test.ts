import test from 'ava'
import { compileRoutes, type RowInput } from '../../src/proxy/route-compile.js'
import { serviceRow } from '../helpers/service-row.js'
import { H2, SELF } from './fixtures.js'

function svcRow (app: string, ports: Array<{ port: number, handlers: Array<'tls' | 'http' | 'proxy_proto'> }>, over: Record<string, unknown> = {}, updatedAt = 1): RowInput {
  const data = serviceRow(app, 8080, [])
  const service = (data.services as Array<Record<string, unknown>>)[0] as Record<string, unknown>
  service.ports = ports.map(p => ({ ...p, forceHttps: false, proxyProtoVersion: 1 }))
  return { key: app, owner: SELF, deleted: false, ownerDead: false, data: { ...data, updatedAt, ...over } }
}

function machineRow (id: string, app: string, host: string, over: Record<string, unknown> = {}): RowInput {
  return { key: id, owner: host, deleted: false, ownerDead: false, data: { id, app, host, state: 'started', configVersion: 1, health: 'passing', region: 'ams', endpoint: { host: '127.0.0.1', port: 4000 }, services: [{ internal_port: 8080 }], ...over } }
}

const base = { version: 1, hostId: SELF, region: 'ams', domain: 'roost.test', machines: [], routers: [], certs: [], members: [] }

test('apps, their hostnames and listeners come from the services rows', t => {
  const table = compileRoutes({ ...base, services: [svcRow('web', [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls', 'http'] }], { hostnames: ['www.example.com'] })] })
  t.deepEqual(table.apps.web?.hostnames, ['web.roost.test', 'www.example.com'])
  t.deepEqual(table.listeners.map(l => [l.port, l.tls, l.http]), [[80, false, true], [443, true, false]])
  t.deepEqual(table.rejected, [])
})

test('apps share a port when all use http or all use tls; a plain tcp port has one app, the first deployed', t => {
  const table = compileRoutes({
    ...base,
    services: [
      svcRow('a', [{ port: 80, handlers: ['http'] }, { port: 5432, handlers: [] }], {}, 1),
      svcRow('b', [{ port: 80, handlers: ['http'] }, { port: 5432, handlers: [] }], {}, 2),
      svcRow('c', [{ port: 443, handlers: ['tls'] }], {}, 3),
      svcRow('d', [{ port: 443, handlers: ['tls', 'http'] }, { port: 80, handlers: ['tls'] }], {}, 4)
    ]
  })
  const byPort = Object.fromEntries(table.listeners.map(l => [l.port, l.apps.map(a => a.app)]))
  t.deepEqual(byPort, { 80: ['a', 'b'], 443: ['c', 'd'], 5432: ['a'] })
  t.deepEqual(table.rejected.map(r => [r.key, r.reason.slice(0, 20)]), [['b', 'port 5432 is taken b'], ['d', 'port 80 is taken by ']])
})

test('a redeploy keeps its app\'s ports: the first deploy time decides, not the last write', t => {
  // `db` was deployed first (createdAt 1) and redeployed at 5; `squat` (3) wants its port as well and stays refused.
  const table = compileRoutes({
    ...base,
    services: [
      svcRow('db', [{ port: 5432, handlers: [] }], { createdAt: 1 }, 5),
      svcRow('squat', [{ port: 5432, handlers: [] }], {}, 3)
    ]
  })
  t.deepEqual(table.listeners.map(l => [l.port, l.apps.map(a => a.app)]), [[5432, ['db']]])
  t.deepEqual(table.rejected.map(r => r.key), ['squat'])
})

test('one bad row is rejected with its reason and the rest still routes', t => {
  const bad = svcRow('evil', [{ port: 81, handlers: ['http'] }], { services: 'everything' })
  const wrongKey = { ...svcRow('x', [{ port: 82, handlers: ['http'] }]), key: 'y' }
  const cyclicLike = svcRow('deep', [{ port: 83, handlers: ['http'] }], { extra: { a: { b: { c: 1 } } } })
  const good = svcRow('web', [{ port: 80, handlers: ['http'] }])
  const table = compileRoutes({ ...base, services: [bad, wrongKey, cyclicLike, good], machines: [machineRow('00000000000001', 'web', SELF), { key: 'm2', owner: SELF, deleted: false, ownerDead: false, data: { nonsense: true } }] })
  t.deepEqual(Object.keys(table.apps), ['web'])
  t.is(table.apps.web?.machines.length, 1)
  t.deepEqual(table.rejected.map(r => r.key).sort(), ['deep', 'evil', 'm2', 'y'])
})

test('a machine row must come from its own host; rows of a dead owner are not routable', t => {
  const forged = { ...machineRow('00000000000002', 'web', H2), owner: SELF }
  const dead = { ...machineRow('00000000000003', 'web', H2), ownerDead: true }
  const table = compileRoutes({
    ...base,
    services: [svcRow('web', [{ port: 80, handlers: ['http'] }])],
    machines: [forged, dead],
    members: [{ hostId: H2, name: 'h2', region: 'ams', state: 'dead', rttMs: null }]
  })
  t.deepEqual(table.apps.web?.machines.map(m => [m.id, m.state]), [['00000000000003', 'unreachable']])
  t.true(table.rejected.some(r => r.key === '00000000000002'))
})

test('other routers\' loads add up per machine; backhaul addresses come from their rows', t => {
  const routerRow = (host: string, loads: Record<string, number>): RowInput => ({ key: host, owner: host, deleted: false, ownerDead: false, data: { backhaul: { address: 'fd00::1', port: 4282, mode: 'wireguard' }, loads, updatedAt: 1 } })
  const H3 = 'c'.repeat(64)
  const table = compileRoutes({
    ...base,
    services: [svcRow('web', [{ port: 80, handlers: ['http'] }])],
    machines: [machineRow('00000000000001', 'web', SELF)],
    routers: [routerRow(H2, { '00000000000001': 2 }), routerRow(H3, { '00000000000001': 4 }), routerRow(SELF, { '00000000000001': 8 })],
    members: [{ hostId: H2, name: 'h2', region: 'ams', state: 'alive', rttMs: 1 }, { hostId: H3, name: 'h3', region: 'ams', state: 'alive', rttMs: 1 }]
  })
  t.is(table.apps.web?.machines[0]?.remoteInflight, 6, 'its own row does not count twice')
  t.deepEqual(table.hosts[H2]?.backhaul, { address: 'fd00::1', port: 4282 })
})

test('acme: once the cluster has acme rows every router listens for plain HTTP on the ACME port, sharing an app\'s http port, and carries the pending challenges', t => {
  const token = 'tok_abcdefghijklmnop'
  const acme: RowInput[] = [
    { key: `challenge/${token}`, owner: H2, deleted: false, ownerDead: false, data: { kind: 'challenge', token, keyAuthorization: `${token}.thumb`, hostname: 'shop.example.com', expiresAt: 2_000 } },
    { key: 'challenge/old_abcdefghijklmnop', owner: H2, deleted: false, ownerDead: false, data: { kind: 'challenge', token: 'old_abcdefghijklmnop', keyAuthorization: 'old.thumb', hostname: 'shop.example.com', expiresAt: 500 } }
  ]
  const none = compileRoutes({ ...base, services: [], acmeHttpPort: 8080, now: 1_000 })
  t.deepEqual(none.listeners, [], 'no ACME use: no listener')
  const alone = compileRoutes({ ...base, services: [svcRow('web', [{ port: 443, handlers: ['tls', 'http'] }])], acme, acmeHttpPort: 8080, now: 1_000 })
  t.deepEqual(alone.listeners.map(l => [l.port, l.tls, l.http, l.apps.length]), [[443, true, false, 1], [8080, false, true, 0]])
  t.deepEqual(alone.acmeChallenges, { [token]: `${token}.thumb` })
  const shared = compileRoutes({ ...base, services: [svcRow('web', [{ port: 8080, handlers: ['http'] }])], acme, acmeHttpPort: 8080, now: 1_000 })
  t.deepEqual(shared.listeners.map(l => [l.port, l.http, l.apps.map(a => a.app)]), [[8080, true, ['web']]])
  t.deepEqual(shared.rejected, [])
  const taken = compileRoutes({ ...base, services: [svcRow('db', [{ port: 8080, handlers: [] }])], acme, acmeHttpPort: 8080, now: 1_000 })
  t.deepEqual(taken.listeners.map(l => [l.port, l.http, l.apps.map(a => a.app)]), [[8080, false, ['db']]], 'the app keeps its port')
  t.regex(taken.rejected[0]?.reason ?? '', /app 'db' holds port 8080 without plain http/)
})
