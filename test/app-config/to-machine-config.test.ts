import test from 'ava'
import { Value } from '@sinclair/typebox/value'
import { MachineConfigSchema } from '../../src/api/machines/schemas.js'
import { parseAppConfig } from '../../src/app-config/parse-app-config.js'
import { toMachineConfig } from '../../src/app-config/to-machine-config.js'
import { EXAMPLES, FULL_TOML } from './fixtures.js'

const DIGEST = 'ab'.repeat(32)

test('the machine config of a full roost.toml: image, env, guest, services, every check, restart', t => {
  t.deepEqual(toMachineConfig(parseAppConfig(FULL_TOML, 'roost.toml'), DIGEST), {
    image: DIGEST,
    env: { LOG_LEVEL: 'debug', DATABASE_URL: 'postgres://db.internal/shop' },
    guest: { cpus: 2, memory_mb: 512 },
    services: [
      { protocol: 'tcp', internal_port: 3000, ports: [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls', 'http'] }] },
      { protocol: 'tcp', internal_port: 5432, ports: [{ port: 5432, handlers: ['proxy_proto'] }, { port: 6432, handlers: ['tls', 'proxy_proto'] }] }
    ],
    checks: {
      'svc0-http0': { type: 'http', port: 3000, interval: '10s', path: '/healthz' },
      'svc1-tcp0': { type: 'tcp', port: 5432, interval: '5s' },
      disk: { type: 'http', port: 3000, path: '/disk' }
    },
    restart: { policy: 'on-failure', max_retries: 5 }
  })
})

test('a minimal roost.toml gives just the image', t => {
  t.deepEqual(toMachineConfig(parseAppConfig(EXAMPLES.minimal ?? '', 'roost.toml'), DIGEST), { image: DIGEST })
})

test('every example\'s config is one the Machines API accepts, and equal specs give equal configs', t => {
  for (const [name, source] of Object.entries(EXAMPLES)) {
    const config = toMachineConfig(parseAppConfig(source, `${name}.toml`), DIGEST)
    t.true(Value.Check(MachineConfigSchema, config), `${name}: ${JSON.stringify([...Value.Errors(MachineConfigSchema, config)].map(e => e.path + ' ' + e.message))}`)
    t.is(JSON.stringify(toMachineConfig(parseAppConfig(source, `${name}.toml`), DIGEST)), JSON.stringify(config), name)
  }
})
