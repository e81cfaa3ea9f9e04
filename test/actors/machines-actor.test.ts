import { createCapacityLedger } from '../../src/placement/capacity.js'
import test, { type ExecutionContext } from 'ava'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { agentActor } from '../../actors/agent/agent-actor.js'
import { createMachinesBackend } from '../../actors/machines/backend.js'
import type { MachineComponents } from '../../actors/machines/components.js'
import type { MachineConfig, MachinesBackend, MachineView } from '../../src/api/machines/schemas.js'
import { createCodec } from '../../src/codec/codec.js'
import { IllegalTransitionError, ImageError, MachineNotFoundError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import type { ExitInfo, GuestSpec, RuntimeRecord, VmDriver, VmHandle, VmStatus } from '../../src/vmm/driver.js'
import type { ImageManifest } from '../../src/vmm/image/manifest.js'
import { createMemoryMachineStore, type MachineStore } from '../../src/vmm/machine-store.js'
import { createMemoryNetwork } from '../../src/transport/memory-transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { hostKeyOf } from '../helpers/host-keys.js'
import { retry } from '../helpers/retry.js'
import { memoryEventLog } from '../helpers/events.js'
import type { EventLog } from '../../src/events/event-log.js'
import { createLoopMonitor } from '../../src/runtime/loop-monitor.js'
import { createMilestones } from '../../src/log/milestones.js'
import { systemClock } from '../../src/runtime/clock.js'

/** A VM driver whose VMs are objects the test ends at will (unit tests of the actor's decisions only). */
interface FakeVm { spec: GuestSpec, handle: VmHandle, exit: (info: ExitInfo) => void, alive: boolean, resumedFrom: string | null, run: VmStatus['run'] }
/** `hold`: suspends stop there for good, as when the agent dies inside one (`paused`: before any snapshot, `migrated`: with a whole one). */
function fakeDriver (faults: { hold?: 'paused' | 'migrated', bootGate?: Promise<void>, adoptGate?: Promise<void> } = {}): VmDriver & { vms: FakeVm[], live: () => FakeVm[] } {
  const vms: FakeVm[] = []
  let pid = 40_000
  const make = (spec: GuestSpec, resumedFrom: string | null): FakeVm => {
    let resolve: (e: ExitInfo) => void = () => {}
    const exited = new Promise<ExitInfo>(r => { resolve = r })
    const port = spec.network.mode === 'forward' ? spec.network.hostPort : 1
    const record: RuntimeRecord = { driver: 'qemu', pid: ++pid, pidStartTicks: 1, endpoint: { host: '127.0.0.1', port } }
    const vm: FakeVm = {
      spec,
      resumedFrom,
      alive: true,
      run: 'running',
      exit: (info) => { vm.alive = false; resolve(info) },
      handle: {
        record,
        exited,
        stop: async () => { vm.exit({ reason: 'stopped', exitCode: 0, vmmExitCode: 0, signal: null }); return await exited },
        kill: async () => { vm.exit({ reason: 'stopped', exitCode: null, vmmExitCode: null, signal: 'SIGKILL' }); return await exited },
        suspend: async (path) => {
          if (faults.hold === 'paused') { vm.run = 'paused'; await writeFile(`${path}.tmp`, 'part'); return await new Promise<never>(() => {}) }
          await writeFile(path, 'memory')
          if (faults.hold === 'migrated') { vm.run = 'migrated'; return await new Promise<never>(() => {}) }
          vm.exit({ reason: 'stopped', exitCode: null, vmmExitCode: 0, signal: null })
        },
        detach: () => {},
        status: async (opts) => ({ run: vm.run, detail: `fake ${vm.run}`, snapshot: opts?.snapshotPath !== undefined && vm.run === 'migrated' && existsSync(opts.snapshotPath) }),
        unpause: async () => { vm.run = 'running' }
      }
    }
    vms.push(vm)
    return vm
  }
  return {
    kind: 'qemu',
    vms,
    live: () => vms.filter(v => v.alive),
    describe: () => 'fake',
    start: async (spec) => { await faults.bootGate; return make(spec, null).handle },
    resume: async (spec, snap) => make(spec, snap).handle,
    adopt: async (_spec, record) => { await faults.adoptGate; return vms.find(v => v.alive && v.handle.record.pid === record.pid)?.handle ?? null },
    logs: async () => 'console'
  }
}

const manifest: ImageManifest = { schema: 1, digest: 'a'.repeat(64), kernel: 'k', initrd: 'i', app: 'app', kernelVersion: 'x', modules: [], createdAt: '', sizeBytes: 0 }

interface Agent { system: ActorSystem, backend: MachinesBackend, events: EventLog, stop: () => Promise<void> }

type CheckFn = Parameters<NonNullable<MachineComponents['healthChecks']>>[1]
const checkListeners: CheckFn[] = []

async function agent (t: ExecutionContext, store: MachineStore, driver: VmDriver, dir: string): Promise<Agent> {
  const net = createMemoryNetwork()
  const hostId = randomHostId()
  const transport = net.transport({ hostId, name: 'h1' })
  await transport.start()
  const system = createActorSystem({ hostId }, { logger: silentLogger(), codec: createCodec(), transport })
  await system.start()
  let port = 20_000
  const events = await memoryEventLog('h1')
  const components: Omit<MachineComponents, 'events'> = {
    drivers: { qemu: driver },
    store,
    images: {
      resolve: async (r) => {
        if (r === 'demo' || r === manifest.digest) return { manifest, dir }
        throw new ImageError(`no image ${r}`)
      }
    },
    ports: async (preferred) => preferred ?? ++port,
    capacity: createCapacityLedger({ cpus: 64, memoryMb: 65536 }),
    healthChecks: (_checks, onResult) => {
      checkListeners.push(onResult)
      return { stop: () => { checkListeners.splice(checkListeners.indexOf(onResult), 1) } }
    }
  }
  system.spawn(null, 'agent', agentActor({ name: 'h1', cluster: 'c', version: '0', region: 'here', startedAt: 0 }, {
    transport,
    signer: hostKeyOf(hostId),
    loopMonitor: createLoopMonitor(),
    events,
    milestones: createMilestones({}, { clock: systemClock }),
    machines: { init: { machinesDir: join(dir, 'machines'), region: 'here', defaultDriver: 'qemu' }, components }
  }))
  const stop = async (): Promise<void> => { await system.stop(); await transport.stop() }
  t.teardown(stop)
  return { system, backend: createMachinesBackend({ system, transport, name: 'h1' }), events, stop }
}

async function setup (t: ExecutionContext, faults: Parameters<typeof fakeDriver>[0] = {}): Promise<{ a: Agent, driver: ReturnType<typeof fakeDriver>, store: MachineStore, dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-machines-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const driver = fakeDriver(faults)
  const store = createMemoryMachineStore()
  return { a: await agent(t, store, driver, dir), driver, store, dir }
}

const config = (extra: Partial<MachineConfig> = {}): MachineConfig => ({ image: 'demo', ...extra })
const state = async (b: MachinesBackend, id: string, s: MachineView['state']): Promise<MachineView> =>
  await b.wait('app1', id, s, 5_000)

test('create starts the machine; stop, start, and the illegal transitions change nothing', async t => {
  const { a, driver } = await setup(t)
  const m = await a.backend.create('app1', { config: config() })
  t.is(m.state, 'starting')
  t.deepEqual((await a.backend.list('app1')).map(x => x.id), [m.id])
  t.deepEqual(await a.backend.list('app2'), [])
  const started = await state(a.backend, m.id, 'started')
  t.deepEqual(started.endpoint, { host: '127.0.0.1', port: driver.vms[0]?.handle.record.endpoint.port })
  t.is(started.config.image, manifest.digest)

  const err = await t.throwsAsync(a.backend.action('app1', m.id, 'start'), { instanceOf: IllegalTransitionError })
  t.is(err?.code, 'ERR_ILLEGAL_TRANSITION')
  await t.throwsAsync(a.backend.destroy('app1', m.id, false), { code: 'ERR_ILLEGAL_TRANSITION' })
  t.is((await a.backend.get('app1', m.id)).state, 'started')

  await a.backend.action('app1', m.id, 'stop')
  await state(a.backend, m.id, 'stopped')
  t.is(driver.live().length, 0)
  await t.throwsAsync(a.backend.action('app1', m.id, 'stop'), { code: 'ERR_ILLEGAL_TRANSITION' })
  await t.throwsAsync(a.backend.action('app1', m.id, 'suspend'), { code: 'ERR_ILLEGAL_TRANSITION' })
  await a.backend.action('app1', m.id, 'start')
  await state(a.backend, m.id, 'started')
  t.is(driver.live().length, 1)

  await t.throwsAsync(a.backend.get('other-app', m.id), { instanceOf: MachineNotFoundError })
  await t.throwsAsync(a.backend.get('app1', 'ffffffffffffff'), { code: 'ERR_MACHINE_NOT_FOUND' })
  await t.throwsAsync(a.backend.create('app1', { config: config({ image: 'nope' }) }), { code: 'ERR_IMAGE' })

  const destroyed = await a.backend.destroy('app1', m.id, true)
  t.is(destroyed.state, 'destroying')
  await retry(async () => (await a.backend.list('app1')).length === 0, { what: 'machine gone' })
  // The destroyed machine's actor asked its parent (a `child`-only message) to reap it.
  await retry(() => !a.system.has(`/agent/machines/${m.id}`), { what: 'machine actor reaped' })
  t.is(driver.live().length, 0)
  await t.throwsAsync(a.backend.get('app1', m.id), { code: 'ERR_MACHINE_NOT_FOUND' })
})

test('every state change of a machine goes into the host\'s event stream, in order, from created to destroyed', async t => {
  const { a } = await setup(t)
  const m = await a.backend.create('app1', { config: config() })
  await state(a.backend, m.id, 'started')
  await a.backend.action('app1', m.id, 'stop')
  await state(a.backend, m.id, 'stopped')
  await a.backend.destroy('app1', m.id, false)
  await retry(() => a.events.since(0, 1000).events.some(e => e.data?.to === 'destroyed'), { what: 'destroyed recorded' })
  const changes = a.events.since(0, 1000).events.filter(e => e.kind === 'machine.state' && e.data?.machine === m.id)
  t.deepEqual(changes.map(e => e.data?.to), ['created', 'starting', 'started', 'stopping', 'stopped', 'destroying', 'destroyed'])
  t.like(changes[2], { host: 'h1', data: { app: 'app1', from: 'starting', to: 'started', event: 'launch' } })
  t.regex(changes[4]?.message ?? '', new RegExp(`^machine ${m.id} \\(app1\\) stopping → stopped`))
})

test('skip_launch creates without starting; update makes a new version and restarts', async t => {
  const { a, driver } = await setup(t)
  const m = await a.backend.create('app1', { config: config(), skip_launch: true })
  t.is(m.state, 'created')
  t.is(driver.vms.length, 0)
  await a.backend.action('app1', m.id, 'start')
  const v1 = await state(a.backend, m.id, 'started')
  const upd = await a.backend.update('app1', m.id, { config: config({ env: { A: '1' } }) })
  t.is(upd.version, 2)
  t.not(upd.instance_id, v1.instance_id)
  await a.backend.wait('app1', m.id, 'started', 5_000, upd.instance_id)
  await retry(() => driver.live().length === 1 && driver.live()[0]?.spec.env.A === '1', { what: 'new VM with the new env' })
  t.is(driver.vms.length, 2)
  const md = await a.backend.setMetadata('app1', m.id, 'role', 'web')
  t.deepEqual(md, { role: 'web' })
  t.deepEqual(await a.backend.deleteMetadata('app1', m.id, 'role'), {})
  const cordoned = await a.backend.action('app1', m.id, 'cordon')
  t.true(cordoned.cordoned)
  t.is(await a.backend.logs('app1', m.id), 'console')
})

test('restart policy on-failure restarts up to max_retries, then the machine is failed', async t => {
  const { a, driver } = await setup(t)
  const m = await a.backend.create('app1', { config: config({ restart: { policy: 'on-failure', max_retries: 2 } }) })
  await state(a.backend, m.id, 'started')
  for (let i = 1; i <= 2; i++) {
    driver.live()[0]?.exit({ reason: 'guest-exit', exitCode: 3, vmmExitCode: 0, signal: null })
    await retry(async () => driver.live().length === 1 && driver.vms.length === i + 1, { what: `restart ${i}` })
    const v = await state(a.backend, m.id, 'started')
    t.is(v.restarts, i)
  }
  driver.live()[0]?.exit({ reason: 'guest-exit', exitCode: 3, vmmExitCode: 0, signal: null })
  const failed = await state(a.backend, m.id, 'failed')
  t.is(failed.events.find(e => e.type === 'exit')?.exit_code, 3)
  t.is(driver.vms.length, 3)
})

test('restart policy: on-failure leaves a clean exit stopped; always restarts it; no never restarts', async t => {
  const { a, driver } = await setup(t)
  const onFailure = await a.backend.create('app1', { config: config() })
  await state(a.backend, onFailure.id, 'started')
  driver.live()[0]?.exit({ reason: 'guest-exit', exitCode: 0, vmmExitCode: 0, signal: null })
  await state(a.backend, onFailure.id, 'stopped')

  const always = await a.backend.create('app1', { config: config({ restart: { policy: 'always' } }) })
  await state(a.backend, always.id, 'started')
  const first = driver.live().find(v => v.spec.machineId === always.id)
  first?.exit({ reason: 'guest-exit', exitCode: 0, vmmExitCode: 0, signal: null })
  await retry(() => driver.live().some(v => v.spec.machineId === always.id && v !== first), { what: 'always restarts' })

  const no = await a.backend.create('app1', { config: config({ restart: { policy: 'no' } }) })
  await state(a.backend, no.id, 'started')
  driver.live().find(v => v.spec.machineId === no.id)?.exit({ reason: 'crashed', exitCode: null, vmmExitCode: null, signal: 'SIGSEGV' })
  await state(a.backend, no.id, 'stopped')
  t.is(driver.vms.filter(v => v.spec.machineId === no.id).length, 1)
})

test('suspend writes a snapshot and start resumes from it', async t => {
  const { a, driver } = await setup(t)
  const m = await a.backend.create('app1', { config: config() })
  await state(a.backend, m.id, 'started')
  await a.backend.action('app1', m.id, 'suspend')
  await state(a.backend, m.id, 'suspended')
  await a.backend.action('app1', m.id, 'start')
  await state(a.backend, m.id, 'started')
  t.truthy(driver.live()[0]?.resumedFrom?.endsWith('snapshot.bin'))
})

test('a new agent on the same store re-adopts running VMs and restarts the ones that died meanwhile', async t => {
  const { a, driver, store, dir } = await setup(t)
  const keep = await a.backend.create('app1', { config: config() })
  const dies = await a.backend.create('app1', { config: config({ restart: { policy: 'always' } }) })
  await state(a.backend, keep.id, 'started')
  await state(a.backend, dies.id, 'started')
  await a.stop()
  driver.live().find(v => v.spec.machineId === dies.id)?.exit({ reason: 'crashed', exitCode: null, vmmExitCode: null, signal: 'SIGKILL' })

  const b = await agent(t, store, driver, dir)
  const adopted = await retry(async () => {
    const v = await b.backend.get('app1', keep.id)
    return v.state === 'started' && v.events.some(e => e.type === 'adopt') && v
  }, { what: 'VM re-adopted' })
  t.is(adopted.endpoint?.port, keep.endpoint?.port ?? adopted.endpoint?.port)
  await retry(async () => (await b.backend.get('app1', dies.id)).state === 'started' && driver.live().filter(v => v.spec.machineId === dies.id).length === 1, { what: 'dead VM restarted by policy' })
  t.is(driver.vms.filter(v => v.spec.machineId === keep.id).length, 1, 'the surviving VM was adopted, not rebooted')
})

test('a destroy that arrives while a new agent is still re-adopting the VM ends that VM too', async t => {
  let adopt = (): void => {}
  const { a, driver, store, dir } = await setup(t, { adoptGate: new Promise<void>(resolve => { adopt = resolve }) })
  const m = await a.backend.create('app1', { config: config() })
  await state(a.backend, m.id, 'started')
  await a.stop()
  const b = await agent(t, store, driver, dir)
  await b.backend.destroy('app1', m.id, true)
  adopt()
  await retry(() => driver.live().length === 0, { what: 'the VM ended' })
  await retry(async () => (await b.backend.list('app1')).length === 0, { what: 'the machine gone' })
  t.is(driver.vms.length, 1, 'nothing booted')
})

test('an agent that died inside a suspend before the snapshot was whole: the new one continues the paused VM and drops the partial snapshot', async t => {
  const { a, driver, store, dir } = await setup(t, { hold: 'paused' })
  const m = await a.backend.create('app1', { config: config() })
  await state(a.backend, m.id, 'started')
  await a.backend.action('app1', m.id, 'suspend')
  await retry(() => driver.vms[0]?.run === 'paused', { what: 'suspend held with the VM paused' })
  await a.stop()

  const b = await agent(t, store, driver, dir)
  const v = await retry(async () => { const v = await b.backend.get('app1', m.id); return v.state === 'started' && v }, { what: 'machine started again' })
  t.is(driver.vms[0]?.run, 'running', 'the VM was continued, not left paused')
  t.is(driver.vms.length, 1, 'the same VM, not a new boot')
  t.regex(v.events[0]?.message ?? '', /suspend.*continued the paused VM/)
  const snap = join(dir, 'machines', m.id, 'snapshot.bin')
  await retry(() => !existsSync(`${snap}.tmp`), { what: 'partial snapshot removed' })
})

test('an agent that died inside a suspend after the snapshot was whole: the new one finishes the suspend, and start resumes from it', async t => {
  const { a, driver, store, dir } = await setup(t, { hold: 'migrated' })
  const m = await a.backend.create('app1', { config: config() })
  await state(a.backend, m.id, 'started')
  await a.backend.action('app1', m.id, 'suspend')
  await retry(() => driver.vms[0]?.run === 'migrated', { what: 'suspend held after the snapshot' })
  await a.stop()

  const b = await agent(t, store, driver, dir)
  await state(b.backend, m.id, 'suspended')
  t.false(driver.vms[0]?.alive, 'the migrated VMM was ended')
  await b.backend.action('app1', m.id, 'start')
  await state(b.backend, m.id, 'started')
  t.truthy(driver.live()[0]?.resumedFrom?.endsWith('snapshot.bin'))
})

test('an agent stopping with its VMs ends a VM that was still booting', async t => {
  let boot = (): void => {}
  const { a, driver } = await setup(t, { bootGate: new Promise<void>(resolve => { boot = resolve }) })
  const m = await a.backend.create('app1', { config: config() })
  t.is(m.state, 'starting')
  const shutdown = a.system.askUntyped(a.system.hostId, '/agent/machines', 'machines.shutdown', { stopVms: true }, { timeoutMs: 30_000 })
  boot()
  await shutdown
  t.is((await a.backend.get('app1', m.id)).state, 'stopped', 'stopped when the shutdown answers')
  t.is(driver.live().length, 0, 'no VM outlives the shutdown')
})

test.serial('check results go into the machine and the cluster state; restart_limit failures restart the machine', async t => {
  const { a, driver } = await setup(t)
  const m = await a.backend.create('app1', { config: config({ checks: { web: { type: 'http', path: '/', restart_limit: 2 } } }) })
  await state(a.backend, m.id, 'started')
  const listener = await retry(() => checkListeners.at(-1), { what: 'checks started' })
  listener('web', { status: 'passing', output: 'HTTP 200' }, 0)
  const passing = await retry(async () => { const v = await a.backend.get('app1', m.id); return v.checks[0]?.status === 'passing' && v }, { what: 'check passing' })
  t.is(passing.checks[0]?.output, 'HTTP 200')
  const row = async (): Promise<Record<string, unknown> | undefined> => {
    const { rows } = await a.system.askUntyped(a.system.hostId, '/agent/membership', 'membership.state', { table: 'machines' }) as { rows: Array<{ key: string, data: Record<string, unknown> }> }
    return rows.find(r => r.key === m.id)?.data
  }
  await retry(async () => (await row())?.health === 'passing', { what: 'health gossiped' })
  listener('web', { status: 'critical', output: 'HTTP 503' }, 1)
  await retry(async () => (await row())?.health === 'critical', { what: 'critical gossiped' })
  t.is(driver.vms.length, 1)
  listener('web', { status: 'critical', output: 'HTTP 503' }, 2)
  await retry(() => driver.vms.length === 2 && driver.live().length === 1, { what: 'restarted after 2 failed checks' })
  const v = await state(a.backend, m.id, 'started')
  t.truthy(v.events.find(e => e.type === 'health-restart'))
})
