import anyTest, { type TestFn, type ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VmmError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import type { GuestSpec, RuntimeRecord, VmHandle } from '../../src/vmm/driver.js'
import { buildImage, type BuiltImage } from '../../src/vmm/image/build.js'
import { createNetnsAllocator } from '../../src/vmm/netns.js'
import { isSameProcess, readRssBytes, readStartTicks } from '../../src/vmm/proc-info.js'
import { createQemuDriver } from '../../src/vmm/qemu-driver.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { releaseVmLock, vmLockFor, type VmLock } from '../helpers/vm-lock.js'
import { freePort } from '../helpers/free-port.js'

interface Ctx {
  root: string
  image: BuiltImage
}

const test = anyTest as TestFn<Ctx>
const vm = await requireParts(test, ['qemu', 'debian-tools'])
const serial = vm.serial

const BOOT_TIMEOUT_MS = 60_000

let vms: VmLock | undefined

test.before(async t => {
  vms = await vmLockFor(vm)
  if (!vms.held) return
  const root = await mkdtemp(join(tmpdir(), 'roost-qemu-test-'))
  // Downloads (kernel, busybox) go to the shared cache; the image store is this run's own.
  const image = await buildImage({ appDir: 'test/fixtures/apps/counter', imagesDir: join(root, 'images') }, { logger: silentLogger() })
  t.context = { root, image }
})

test.after.always(async t => {
  await releaseVmLock(vms)
  if (t.context.root !== undefined) await rm(t.context.root, { recursive: true, force: true })
})


let machines = 0
async function guestSpec (t: ExecutionContext<Ctx>): Promise<GuestSpec> {
  const machineId = `m${++machines}`
  const dir = join(t.context.root, 'machines', machineId)
  await mkdir(dir, { recursive: true })
  return {
    machineId,
    dir,
    image: t.context.image,
    imageDir: t.context.image.dir,
    cpus: 1,
    memoryMb: 128,
    env: { GREETING: "it's me" },
    guestPort: 8080,
    network: { mode: 'forward', hostPort: await freePort() }
  }
}

function newDriver (t: ExecutionContext<Ctx>, netns?: ReturnType<typeof createNetnsAllocator>): ReturnType<typeof createQemuDriver> {
  return createQemuDriver({ cacheDir: join(t.context.root, 'cache'), stopTimeoutMs: 15_000 }, { logger: silentLogger(), ...(netns === undefined ? {} : { netns }) })
}

/** Kills the VM's process group at teardown if the test left it running. */
function cleanup (t: ExecutionContext<Ctx>, h: VmHandle): void {
  const { pid, pidStartTicks } = h.record
  t.teardown(() => {
    if (!isSameProcess(pid, pidStartTicks)) return
    try { process.kill(-pid, 'SIGKILL') } catch {}
  })
}

async function get (port: number, path: string): Promise<{ status: number, body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) })
  return { status: res.status, body: await res.text() }
}

async function waitHttp (port: number, path = '/'): Promise<{ status: number, body: string }> {
  return await retry(async () => {
    const r = await get(port, path)
    return r.status === 200 ? r : undefined
  }, { timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 20, what: `HTTP 200 from 127.0.0.1:${port}${path}` })
}

serial('start answers HTTP on the forwarded port; stop ends it as stopped', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const t0 = Date.now()
  const h = await driver.start(spec)
  cleanup(t, h)
  t.is(h.record.driver, 'qemu')
  t.deepEqual(h.record.endpoint, { host: '127.0.0.1', port: spec.network.mode === 'forward' ? spec.network.hostPort : 0 })
  t.regex(driver.describe(), /^qemu \S+ microvm, accel (kvm|tcg)$/)
  const page = await waitHttp(h.record.endpoint.port)
  t.log(`boot: spawn → HTTP ${Date.now() - t0} ms; RSS ${Math.round((readRssBytes(h.record.pid) ?? 0) / 1048576)} MiB; ${driver.describe()}`)
  t.regex(page.body, new RegExp(`counter on roost machine ${spec.machineId}`))
  const info = await h.stop()
  t.is(info.reason, 'stopped')
  t.is(info.vmmExitCode, 0)
  t.false(isSameProcess(h.record.pid, h.record.pidStartTicks))
  t.is(await h.stop(), info, 'stop is idempotent')
  t.regex(await driver.logs(spec), /roost-exit: \d+/)
})

serial('stop while the guest is still booting falls back to quit; concurrent stops share the outcome', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const h = await driver.start(spec)
  cleanup(t, h)
  const [a, b] = await Promise.all([h.stop({ timeoutMs: 200 }), h.stop({ timeoutMs: 200 })])
  t.is(a, b)
  t.is(a.reason, 'stopped')
  t.false(isSameProcess(h.record.pid, h.record.pidStartTicks))
  t.is(await h.kill(), a)
})

serial('the guest app exiting with 3 ends the VM as guest-exit with exitCode 3', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const h = await driver.start(spec)
  cleanup(t, h)
  await waitHttp(h.record.endpoint.port)
  const r = await get(h.record.endpoint.port, '/cgi-bin/exit?code=3')
  t.is(r.status, 200)
  const info = await h.exited
  t.is(info.reason, 'guest-exit')
  t.is(info.exitCode, 3)
})

serial('suspend writes a snapshot; resume on another port keeps the counter; kill ends it as stopped', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const h = await driver.start(spec)
  cleanup(t, h)
  const port = h.record.endpoint.port
  await waitHttp(port)
  t.is((await get(port, '/cgi-bin/count')).body.trim(), '1')
  t.is((await get(port, '/cgi-bin/count')).body.trim(), '2')
  const snapshot = join(spec.dir, 'snapshot.bin')
  const s0 = Date.now()
  await h.suspend(snapshot)
  const suspendMs = Date.now() - s0
  t.true((await stat(snapshot)).size > 0)
  t.is((await h.exited).reason, 'stopped')

  const resumed = { ...spec, network: { mode: 'forward' as const, hostPort: await freePort() } }
  const r0 = Date.now()
  const h2 = await driver.resume(resumed, snapshot)
  cleanup(t, h2)
  t.is(h2.record.endpoint.port, resumed.network.hostPort)
  await waitHttp(h2.record.endpoint.port, '/ping.txt')
  const third = await get(h2.record.endpoint.port, '/cgi-bin/count')
  t.log(`suspend ${suspendMs} ms (${Math.round((await stat(snapshot)).size / 1048576)} MiB); resume → HTTP ${Date.now() - r0} ms`)
  t.is(third.body.trim(), '3')
  const info = await h2.kill()
  t.is(info.reason, 'stopped')
  t.is(info.signal, 'SIGKILL')
})

serial('a new driver adopts a detached VM and stops it', async t => {
  const first = newDriver(t)
  const spec = await guestSpec(t)
  const h = await first.start(spec)
  cleanup(t, h)
  await waitHttp(h.record.endpoint.port)
  t.is((await get(h.record.endpoint.port, '/cgi-bin/count')).body.trim(), '1')
  h.detach()
  const record = structuredClone(h.record)

  const second = newDriver(t)
  const adopted = await second.adopt(spec, record)
  if (adopted === null) return t.fail('adopt returned null for a running VM')
  t.is(adopted.record.pid, record.pid)
  t.is((await get(record.endpoint.port, '/cgi-bin/count')).body.trim(), '2')
  const info = await adopted.stop()
  t.is(info.reason, 'stopped')
  t.false(isSameProcess(record.pid, record.pidStartTicks))
})

serial('a VM outlives its agent being killed -9; the next agent adopts it and sees the guest exit', async t => {
  const spec = await guestSpec(t)
  const agent = spawn(process.execPath, ['--import=tsx', 'test/vmm/helpers/qemu-start-detached.ts', JSON.stringify(spec), join(t.context.root, 'cache')], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { agent.kill('SIGKILL') })
  let out = ''
  agent.stdout.setEncoding('utf8')
  agent.stdout.on('data', (chunk: string) => { out += chunk })
  const record = await retry(() => out.includes('\n') ? JSON.parse(out.split('\n')[0] ?? '') as RuntimeRecord : undefined, { timeoutMs: BOOT_TIMEOUT_MS, what: 'the stand-in agent to print its VM' })
  t.teardown(() => { if (isSameProcess(record.pid, record.pidStartTicks)) process.kill(-record.pid, 'SIGKILL') })
  const agentGone = new Promise(resolve => agent.once('exit', resolve))
  agent.kill('SIGKILL')
  await agentGone
  t.true(isSameProcess(record.pid, record.pidStartTicks), 'the VM survived its agent')

  const adopted = await newDriver(t).adopt(spec, record)
  if (adopted === null) return t.fail('adopt returned null')
  await waitHttp(record.endpoint.port)
  await get(record.endpoint.port, '/cgi-bin/exit?code=5')
  const info = await adopted.exited
  t.is(info.reason, 'guest-exit')
  t.is(info.exitCode, 5)
  t.false(isSameProcess(record.pid, record.pidStartTicks))
})

serial('adopt: a stale record gives null; a live pid without QMP is killed', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const dead = spawn('true', { stdio: 'ignore' })
  await new Promise(resolve => dead.once('exit', resolve))
  const base = { driver: 'qemu' as const, endpoint: { host: '127.0.0.1', port: 1 }, qmpSocket: join(spec.dir, 'qmp.sock') }
  t.is(await driver.adopt(spec, { ...base, pid: dead.pid ?? 0, pidStartTicks: 1 }), null)

  // A process that is alive (same start time) but serves no QMP: not a VM we can drive.
  const impostor = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' })
  const pid = impostor.pid ?? 0
  t.teardown(() => { try { process.kill(-pid, 'SIGKILL') } catch {} })
  const ticks = readStartTicks(pid) ?? 0
  t.is(await driver.adopt(spec, { ...base, pid, pidStartTicks: ticks + 1 }), null, 'a reused pid is not adopted')
  t.true(isSameProcess(pid, ticks), 'and not killed')
  t.is(await driver.adopt(spec, { ...base, pid, pidStartTicks: ticks }), null)
  await retry(() => !isSameProcess(pid, ticks), { timeoutMs: 5000, what: 'impostor killed' })
  t.pass()
})

serial('QEMU dying on its own ends the VM as crashed', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const h = await driver.start(spec)
  cleanup(t, h)
  await waitHttp(h.record.endpoint.port)
  process.kill(h.record.pid, 'SIGKILL')
  const info = await h.exited
  t.is(info.reason, 'crashed')
  t.is(info.signal, 'SIGKILL')
})

serial('start fails with a VmmError saying why when the host port is taken', async t => {
  const driver = newDriver(t)
  const spec = await guestSpec(t)
  const port = spec.network.mode === 'forward' ? spec.network.hostPort : 0
  const blocker = createServer()
  await new Promise<void>(resolve => blocker.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { blocker.close() })
  const err = await t.throwsAsync(driver.start(spec), { instanceOf: VmmError })
  t.regex(err?.message ?? '', /host forwarding/i)
  await t.throwsAsync(driver.resume(spec, join(spec.dir, 'missing.bin')), { instanceOf: VmmError, message: /not found/ })
})

const nsSerial = (await requireParts(test, ['qemu', 'debian-tools', 'root'])).serial

nsSerial('namespace networking: the guest answers at its tap address; stop removes the namespace', async t => {
  const netns = createNetnsAllocator({ prefix: `qt${process.pid % 100000}` }, { logger: silentLogger() })
  t.teardown(async () => { await netns.cleanupStale([]) })
  const driver = newDriver(t, netns)
  const spec = { ...await guestSpec(t), network: { mode: 'namespace' as const } }
  const t0 = Date.now()
  const h = await driver.start(spec)
  cleanup(t, h)
  t.truthy(h.record.netns)
  t.regex(h.record.endpoint.host, /^10\.211\./)
  t.is(h.record.endpoint.port, spec.guestPort)
  const page = await retry(async () => {
    const res = await fetch(`http://${h.record.endpoint.host}:${h.record.endpoint.port}/`, { signal: AbortSignal.timeout(3000) })
    return res.status === 200 ? await res.text() : undefined
  }, { timeoutMs: BOOT_TIMEOUT_MS, intervalMs: 20, what: 'HTTP from the guest in its namespace' })
  t.log(`namespace boot: spawn → HTTP ${Date.now() - t0} ms`)
  t.regex(page, /counter on roost machine/)
  t.is((await h.stop()).reason, 'stopped')
  t.deepEqual(await netns.list(), [])
})
