import test from 'ava'
import { Value } from '@sinclair/typebox/value'
import { parseAppConfig } from '../../src/app-config/parse-app-config.js'
import { toServiceRow } from '../../src/app-config/to-service-row.js'
import { dataError } from '../../src/gossip/row-check.js'
import { ServiceRowSchema } from '../../src/gossip/rows.js'
import { EXAMPLES, FULL_TOML } from './fixtures.js'

test('the services row of a full roost.toml', t => {
  const row = toServiceRow(parseAppConfig(FULL_TOML, 'roost.toml'), 7, 1_700_000_000_000)
  t.deepEqual(row, {
    app: 'shop',
    deployVersion: 7,
    primaryRegion: 'fra',
    hostnames: ['shop.example.com', '*.shop.example.com'],
    services: [
      {
        protocol: 'tcp',
        internalPort: 3000,
        ports: [
          { port: 80, handlers: ['http'], forceHttps: true, proxyProtoVersion: 1 },
          { port: 443, handlers: ['tls', 'http'], forceHttps: false, proxyProtoVersion: 1, alpn: ['http/1.1'] }
        ],
        concurrency: { type: 'requests', softLimit: 40, hardLimit: 50 },
        autoStopMachines: 'suspend',
        autoStartMachines: true,
        minMachinesRunning: 1
      },
      {
        protocol: 'tcp',
        internalPort: 5432,
        ports: [
          { port: 5432, handlers: ['proxy_proto'], forceHttps: false, proxyProtoVersion: 2 },
          { port: 6432, handlers: ['tls', 'proxy_proto'], forceHttps: false, proxyProtoVersion: 1 }
        ],
        concurrency: { type: 'connections', softLimit: 20, hardLimit: 25 },
        autoStopMachines: 'off',
        autoStartMachines: false,
        minMachinesRunning: 0
      }
    ],
    updatedAt: 1_700_000_000_000
  })
})

test('every example\'s row passes the gossiped table\'s own check', t => {
  for (const [name, source] of Object.entries(EXAMPLES)) {
    const row = toServiceRow(parseAppConfig(source, `${name}.toml`), 1)
    t.true(Value.Check(ServiceRowSchema, row), name)
    t.is(dataError('services', row), undefined, name)
    t.is(dataError('services', JSON.parse(JSON.stringify(row))), undefined, `${name} after a JSON round trip`)
  }
})

test('the row shares nothing with the spec it came from', t => {
  const spec = parseAppConfig(FULL_TOML, 'roost.toml')
  const row = toServiceRow(spec, 1, 0)
  const before = JSON.stringify(row)
  spec.hostnames.push('other.example.com')
  spec.services[0]?.ports[1]?.alpn?.push('h2')
  spec.services[0]?.ports[0]?.handlers.push('tls')
  if (spec.services[1] !== undefined) spec.services[1].concurrency.hardLimit = 1
  t.is(JSON.stringify(row), before)
})

test('the table refuses rows of another shape: unknown keys, bad handlers, missing fields, the old shape', t => {
  const good = toServiceRow(parseAppConfig(FULL_TOML, 'roost.toml'), 1, 0)
  const svc = good.services[0]
  if (svc === undefined) throw new Error('no service')
  const bad: Array<[string, unknown]> = [
    ['unknown top-level key', { ...good, extra: 1 }],
    ['unknown service key', { ...good, services: [{ ...svc, weight: 1 }] }],
    ['unknown port key', { ...good, services: [{ ...svc, ports: [{ ...svc.ports[0], tls: true }] }] }],
    ['bad handler', { ...good, services: [{ ...svc, ports: [{ ...svc.ports[0], handlers: ['https'] }] }] }],
    ['handler twice', { ...good, services: [{ ...svc, ports: [{ ...svc.ports[0], handlers: ['http', 'http'] }] }] }],
    ['proxy protocol 3', { ...good, services: [{ ...svc, ports: [{ ...svc.ports[0], proxyProtoVersion: 3 }] }] }],
    ['bad autostop', { ...good, services: [{ ...svc, autoStopMachines: true }] }],
    ['zero hard limit', { ...good, services: [{ ...svc, concurrency: { ...svc.concurrency, hardLimit: 0 } }] }],
    ['negative deploy version', { ...good, deployVersion: -1 }],
    ['bad app name', { ...good, app: 'Shop!' }],
    ['no updatedAt', { ...good, updatedAt: undefined }],
    ['17 services', { ...good, services: Array.from({ length: 17 }, () => svc) }],
    ['the old shape', { app: 'web', ports: [{ port: 443, handlers: ['tls', 'http'] }] }]
  ]
  for (const [what, data] of bad) t.regex(dataError('services', JSON.parse(JSON.stringify(data))) ?? 'accepted', /services schema/, what)
})
