import test from 'ava'
import type { MachineConfig, MachineView } from '../../src/api/machines/schemas.js'
import { carryOver, planDeploy, sameConfig } from '../../src/cli/deploy-plan.js'
import { placementHosts } from '../../src/cli/commands/deploy.js'
import type { MemberView } from '../../src/api/control-api.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const C = 'c'.repeat(64)
const CONFIG: MachineConfig = { image: 'f'.repeat(64), env: { MODE: 'new' }, services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }] }] }

function machine (id: string, host: string, createdAt: string, config: MachineConfig = CONFIG): MachineView {
  return {
    id, name: `m-${id}`, app: 'web', state: 'started', region: 'local', host, instance_id: 'i', version: 1, driver: 'process', config,
    endpoint: null, cordoned: false, restarts: 0, checks: [], events: [], created_at: createdAt, updated_at: createdAt
  }
}

const summary = (steps: ReturnType<typeof planDeploy>): string[] =>
  steps.map(s => s.action === 'create' ? `create@${s.host?.[0] ?? `placement:${s.region ?? 'any'}`}` : `${s.action}:${s.machine.id}`)

test('a new app: machines round-robin over the hosts in order', t => {
  t.deepEqual(summary(planDeploy({ existing: [], config: CONFIG, count: 5, hosts: [B, A] })), ['create@b', 'create@a', 'create@b', 'create@a', 'create@b'])
  t.deepEqual(summary(planDeploy({ existing: [], config: CONFIG, count: 0, hosts: [A] })), [])
})

test('scaling up fills the hosts holding the fewest of the app\'s machines first', t => {
  const existing = [machine('1', A, '2024-01-01T00:00:00Z'), machine('2', A, '2024-01-02T00:00:00Z')]
  t.deepEqual(summary(planDeploy({ existing, config: CONFIG, count: 5, hosts: [A, B, C] })),
    ['unchanged:1', 'unchanged:2', 'create@b', 'create@c', 'create@b'])
})

test('scaling down destroys the newest extras first, before anything else', t => {
  const existing = [machine('3', B, '2024-01-03T00:00:00Z'), machine('1', A, '2024-01-01T00:00:00Z'), machine('2', A, '2024-01-02T00:00:00Z', { ...CONFIG, env: { MODE: 'old' } })]
  t.deepEqual(summary(planDeploy({ existing, config: CONFIG, count: 2, hosts: [A] })), ['destroy:3', 'unchanged:1', 'update:2'])
  t.deepEqual(summary(planDeploy({ existing, config: CONFIG, count: 0, hosts: [] })), ['destroy:1', 'destroy:2', 'destroy:3'])
})

test('an update keeps what roost.toml does not set (metadata, driver, network, from_snapshot)', t => {
  const current: MachineConfig = { ...CONFIG, env: { MODE: 'old' }, metadata: { team: 'x' }, driver: 'process', network: 'forward', from_snapshot: true }
  const [step] = planDeploy({ existing: [machine('1', A, '2024-01-01T00:00:00Z', current)], config: CONFIG, count: 1, hosts: [A] })
  t.is(step?.action, 'update')
  if (step?.action === 'update') t.deepEqual(step.config, { ...CONFIG, metadata: { team: 'x' }, driver: 'process', network: 'forward', from_snapshot: true })
  const [same] = planDeploy({ existing: [machine('1', A, '2024-01-01T00:00:00Z', carryOver(CONFIG, current))], config: CONFIG, count: 1, hosts: [A] })
  t.is(same?.action, 'unchanged', 'carried keys alone do not make a change')
})

test('configs compare by content, not key order; a new image is a change', t => {
  t.true(sameConfig({ image: 'x', env: { A: '1', B: '2' } }, { env: { B: '2', A: '1' }, image: 'x' }))
  t.false(sameConfig({ image: 'x' }, { image: 'y' }))
  t.false(sameConfig({ image: 'x', services: [{ internal_port: 1 }] }, { image: 'x', services: [{ internal_port: 2 }] }))
  const [step] = planDeploy({ existing: [machine('1', A, '2024-01-01T00:00:00Z')], config: { ...CONFIG, image: 'e'.repeat(64) }, count: 1, hosts: [A] })
  t.is(step?.action, 'update')
})

test('without hosts, new machines are left to placement, in the regions round-robin', t => {
  t.deepEqual(summary(planDeploy({ existing: [], config: CONFIG, count: 2, hosts: [] })), ['create@placement:any', 'create@placement:any'])
  t.deepEqual(summary(planDeploy({ existing: [machine('1', A, '2024-01-01T00:00:00Z')], config: CONFIG, count: 4, hosts: [], regions: ['ams', 'ord'] })),
    ['unchanged:1', 'create@placement:ams', 'create@placement:ord', 'create@placement:ams'])
})

test('--host values resolve by name or id prefix to alive members; none leaves it to placement', t => {
  const member = (hostId: string, name: string, state: MemberView['state'] = 'alive'): MemberView =>
    ({ hostId, name, state, version: '', region: 'local', addresses: [], self: false, incarnation: 0, rttMs: null, changedAt: 0, path: 'hyperswarm' })
  const members = [member(C, 'h3'), member(A, 'h1'), member(B, 'h2', 'dead')]
  t.deepEqual(placementHosts(members, []), [])
  t.deepEqual(placementHosts(members, ['h3', 'aaaa']), [C, A])
  t.throws(() => placementHosts(members, ['h9']), { code: 'ERR_UNKNOWN_HOST', message: /no such host/ })
  t.throws(() => placementHosts(members, ['h2']), { code: 'ERR_UNKNOWN_HOST', message: /the host is dead/ })
})
