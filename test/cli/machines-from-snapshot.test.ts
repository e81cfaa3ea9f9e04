import test from 'ava'
import { Value } from '@sinclair/typebox/value'
import { CreateMachineSchema, MachineViewSchema } from '../../src/api/machines/schemas.js'
import { runRequest } from '../../src/cli/commands/machines.js'

test('roost machines run --from-snapshot asks for a warm clone; without it, a cold boot', t => {
  const warm = runRequest('demo', { env: [], port: '8080', fromSnapshot: true })
  t.is(warm.config.from_snapshot, true)
  t.true(Value.Check(CreateMachineSchema, warm))
  const cold = runRequest('demo', { env: [], port: '8080' })
  t.false('from_snapshot' in cold.config)
})

test('the machine view says how its VM started', t => {
  const view = {
    id: '0123456789abcd', name: 'n', app: 'a', state: 'started', region: 'local', host: 'h', instance_id: 'I', version: 1, driver: 'qemu',
    config: { image: 'demo', from_snapshot: true }, endpoint: { host: '127.0.0.1', port: 1 }, cordoned: false, restarts: 0, checks: [], events: [],
    created_at: 'x', updated_at: 'x'
  }
  t.true(Value.Check(MachineViewSchema, { ...view, boot: { mode: 'clone', snapshot: 'abc' } }))
  t.true(Value.Check(MachineViewSchema, { ...view, boot: null }))
  t.false(Value.Check(MachineViewSchema, { ...view, boot: { mode: 'teleport' } }))
})
