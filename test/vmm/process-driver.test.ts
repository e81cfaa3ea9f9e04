import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { VmmError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import type { GuestSpec, NetworkSpec, VmHandle } from '../../src/vmm/driver.js'
import type { ImageManifest } from '../../src/vmm/image/manifest.js'
import { createNetnsAllocator, listNamespaces } from '../../src/vmm/netns.js'
import { readStartTicks } from '../../src/vmm/proc-info.js'
import { liveGroupMembers } from '../../src/vmm/proc-tree.js'
import { createProcessDriver, MACHINE_TMP } from '../../src/vmm/process-driver.js'
import { allocatePort } from '../../src/vmm/ports.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'

const COUNTER_APP = resolve('test/fixtures/apps/counter')

/** A temp dir per test, removed (with every process started in it) on teardown. */
async function sandbox (t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-procdrv-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** An image dir holding a copy of `appDir` (kernel/initrd are dummies: this driver ignores them). */
async function makeImage (root: string, appDir: string): Promise<{ imageDir: string, image: ImageManifest }> {
  const imageDir = join(root, 'image')
  await mkdir(imageDir, { recursive: true })
  await cp(appDir, join(imageDir, 'app'), { recursive: true })
  const image: ImageManifest = {
    schema: 1,
    digest: randomBytes(32).toString('hex'),
    kernel: 'vmlinuz',
    initrd: 'initrd.gz',
    app: 'app',
    kernelVersion: 'none',
    modules: [],
    createdAt: new Date().toISOString(),
    sizeBytes: 0
  }
  await writeFile(join(imageDir, 'manifest.json'), JSON.stringify(image))
  return { imageDir, image }
}

/** An app (in the test's temp dir) that ignores SIGTERM, children included. */
async function stubbornApp (root: string): Promise<string> {
  const dir = join(root, 'stubborn-src')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'run'), "#!/bin/sh\ntrap '' TERM\necho stubborn\nwhile :; do sleep 1; done\n", { mode: 0o755 })
  return dir
}

async function guestSpec (t: ExecutionContext, appDir: string, network?: NetworkSpec): Promise<GuestSpec> {
  const root = await sandbox(t)
  const { imageDir, image } = await makeImage(root, appDir)
  const dir = join(root, 'machine')
  await mkdir(dir)
  const machineId = 'm' + randomBytes(6).toString('hex')
  return {
    machineId,
    dir,
    image,
    imageDir,
    cpus: 1,
    memoryMb: 64,
    env: { GREETING: 'hi' },
    guestPort: 8080,
    network: network ?? { mode: 'forward', hostPort: await allocatePort() }
  }
}

/** Kills the handle's process group on teardown, whatever the test did. */
function reap (t: ExecutionContext, handle: VmHandle): void {
  t.teardown(() => { try { process.kill(-handle.record.pid, 'SIGKILL') } catch {} })
}

async function httpGet (host: string, port: number, path: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, timeout: 3000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', reject)
    req.end()
  })
}

async function answering (handle: VmHandle, path = '/'): Promise<{ status: number, body: string }> {
  const { host, port } = handle.record.endpoint
  return await retry(async () => await httpGet(host, port, path), { timeoutMs: 15_000, what: `HTTP ${host}:${port}${path}` })
}

/** No live process is left in the app's process group. */
function groupGone (pid: number): boolean {
  return liveGroupMembers(pid).length === 0
}

test('start serves HTTP on 127.0.0.1:hostPort; stop → stopped; output and marker in the log', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  t.is(driver.kind, 'process')
  t.is(driver.describe(), 'process')
  const handle = await driver.start(spec)
  reap(t, handle)
  t.like(handle.record, { driver: 'process', endpoint: { host: '127.0.0.1', port: (spec.network as { hostPort: number }).hostPort } })
  t.is(handle.record.pidStartTicks, readStartTicks(handle.record.pid) ?? -1)
  t.is((await answering(handle)).status, 200)
  t.deepEqual(await answering(handle, '/cgi-bin/count'), { status: 200, body: '1\n' })
  t.deepEqual(await answering(handle, '/cgi-bin/count'), { status: 200, body: '2\n' })
  const [a, b] = await Promise.all([handle.stop(), handle.stop()])
  t.like(a, { reason: 'stopped' })
  t.deepEqual(a, b)
  t.deepEqual(await handle.stop(), a)
  t.deepEqual(await handle.exited, a)
  t.true(groupGone(handle.record.pid))
  const logs = await driver.logs(spec)
  t.regex(logs, /counter: listening on port \d+/)
  t.regex(logs, /\nroost-exit: \d+\n$/)
  t.is(await driver.logs(spec, 13), logs.slice(-13))
})

test('an app\'s TMPDIR is its machine\'s own, made afresh at each start: an app killed outright leaves nothing in the host\'s /tmp', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const tmp = join(spec.dir, MACHINE_TMP)
  const state = join(tmp, `roost-counter-${spec.machineId}`)
  const first = await driver.start(spec)
  reap(t, first)
  t.deepEqual(await answering(first, '/cgi-bin/count'), { status: 200, body: '1\n' })
  t.is(await readFile(join(state, 'count'), 'utf8'), '1\n', 'the counter keeps its state under the machine\'s TMPDIR')
  t.false(existsSync(join(tmpdir(), `roost-counter-${spec.machineId}`)))
  await first.kill()
  t.true(existsSync(state), 'SIGKILL: the app\'s own clean-up did not run')
  await writeFile(join(tmp, 'stale'), 'x')
  const second = await driver.start(spec)
  reap(t, second)
  t.is((await answering(second)).status, 200)
  t.false(existsSync(join(tmp, 'stale')), 'a new start begins with an empty TMPDIR')
  await second.stop()
})

test('a TMPDIR in the machine\'s env wins over its own', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const mine = join(spec.dir, 'mine')
  await mkdir(mine)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start({ ...spec, env: { ...spec.env, TMPDIR: mine } })
  reap(t, handle)
  t.deepEqual(await answering(handle, '/cgi-bin/count'), { status: 200, body: '1\n' })
  t.true(existsSync(join(mine, `roost-counter-${spec.machineId}`, 'count')))
  await handle.stop()
})

test('the app exiting with code N → guest-exit N, marker in the log', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start(spec)
  reap(t, handle)
  t.is((await answering(handle, '/cgi-bin/exit?code=7')).status, 200)
  const info = await handle.exited
  t.deepEqual(info, { reason: 'guest-exit', exitCode: 7, vmmExitCode: 7, signal: null })
  t.true(groupGone(handle.record.pid))
  t.regex(await driver.logs(spec), /\nroost-exit: 7\n$/)
})

test('the app gets the user env, PORT and ROOST_MACHINE_ID, runs in its app dir', async t => {
  const root = await sandbox(t)
  const src = join(root, 'envapp')
  await mkdir(src)
  await writeFile(join(src, 'run'), '#!/bin/sh\necho "port=$PORT id=$ROOST_MACHINE_ID greeting=$GREETING cwd=$(pwd) path=${PATH:+set}"\nexit 3\n', { mode: 0o755 })
  const spec = await guestSpec(t, src)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start(spec)
  reap(t, handle)
  t.like(await handle.exited, { reason: 'guest-exit', exitCode: 3 })
  const port = (spec.network as { hostPort: number }).hostPort
  t.is(await driver.logs(spec), `port=${port} id=${spec.machineId} greeting=hi cwd=${join(spec.imageDir, 'app')} path=set\nroost-exit: 3\n`)
})

test('a signal the driver did not send → crashed', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start(spec)
  reap(t, handle)
  await answering(handle)
  process.kill(handle.record.pid, 'SIGKILL')
  t.deepEqual(await handle.exited, { reason: 'crashed', exitCode: null, vmmExitCode: null, signal: 'SIGKILL' })
  t.regex(await driver.logs(spec), /\nroost-exit: 137\n$/)
  t.true(groupGone(handle.record.pid))
})

test('stop of an app that ignores SIGTERM falls back to SIGKILL after the timeout', async t => {
  const root = await sandbox(t)
  const spec = await guestSpec(t, await stubbornApp(root))
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start(spec)
  reap(t, handle)
  await retry(async () => (await driver.logs(spec)).includes('stubborn'), { what: 'app running' })
  const info = await handle.stop({ timeoutMs: 300 })
  t.deepEqual(info, { reason: 'stopped', exitCode: null, vmmExitCode: null, signal: 'SIGKILL' })
  t.true(groupGone(handle.record.pid))
})

test('kill → stopped by SIGKILL; stop with an unknown signal is refused', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start(spec)
  reap(t, handle)
  await t.throwsAsync(handle.stop({ signal: 'SIGNOPE' }), { code: 'ERR_INVALID_ARGUMENT' })
  t.like(await handle.kill(), { reason: 'stopped', signal: 'SIGKILL' })
})

test('suspend and resume are typed VmmErrors; a missing run is a VmmError', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const handle = await driver.start(spec)
  reap(t, handle)
  const err = await t.throwsAsync(handle.suspend(join(spec.dir, 'snap')), { instanceOf: VmmError, message: 'the process driver cannot suspend' })
  t.is(err?.code, 'ERR_VMM')
  await t.throwsAsync(driver.resume(spec, join(spec.dir, 'snap')), { instanceOf: VmmError })
  await handle.stop()
  await rm(join(spec.imageDir, 'app', 'run'))
  await t.throwsAsync(driver.start(spec), { instanceOf: VmmError })
})

test('a new driver adopts a detached app, watches it and stops it', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const first = createProcessDriver({}, { logger: silentLogger() })
  const handle = await first.start(spec)
  reap(t, handle)
  await answering(handle)
  handle.detach()
  const record = JSON.parse(JSON.stringify(handle.record)) as typeof handle.record

  const second = createProcessDriver({ pollIntervalMs: 50 }, { logger: silentLogger() })
  const adopted = await second.adopt(spec, record)
  if (adopted === null) return t.fail('not adopted')
  t.deepEqual(adopted.record, record)
  t.deepEqual(await answering(adopted, '/cgi-bin/count'), { status: 200, body: '1\n' })
  t.deepEqual(await adopted.stop(), { reason: 'stopped', exitCode: null, vmmExitCode: null, signal: null })
  t.true(groupGone(record.pid))
  t.is(await second.adopt(spec, record), null, 'gone now')
})

test('an adopted app that exits by itself → crashed, exit code unknown', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const first = createProcessDriver({}, { logger: silentLogger() })
  const handle = await first.start(spec)
  reap(t, handle)
  await answering(handle)
  handle.detach()
  const adopted = await createProcessDriver({ pollIntervalMs: 50 }, { logger: silentLogger() }).adopt(spec, handle.record)
  if (adopted === null) return t.fail('not adopted')
  await answering(adopted, '/cgi-bin/exit?code=4')
  t.deepEqual(await adopted.exited, { reason: 'crashed', exitCode: null, vmmExitCode: null, signal: null })
})

test('adopt with a dead pid, or a reused one, → null', async t => {
  const spec = await guestSpec(t, COUNTER_APP)
  const driver = createProcessDriver({}, { logger: silentLogger() })
  const child = spawn('true')
  const pid = child.pid ?? 0
  const ticks = readStartTicks(pid) ?? 0
  await new Promise(resolve => child.once('exit', resolve))
  await retry(() => readStartTicks(pid) === null, { what: 'reaped' })
  const record = { driver: 'process' as const, pid, pidStartTicks: ticks, endpoint: { host: '127.0.0.1', port: 1 } }
  t.is(await driver.adopt(spec, record), null)
  t.is(await driver.adopt(spec, { ...record, pid: process.pid }), null, 'a live pid with other start ticks')
})

const rootTest = await requireParts(test, ['root'])

rootTest('namespace mode: the app answers on the namespace address; the namespace is gone after it ends', async t => {
  const netns = createNetnsAllocator({ prefix: 't' + randomBytes(3).toString('hex') }, { logger: silentLogger() })
  t.teardown(async () => { await netns.cleanupStale([]) })
  const driver = createProcessDriver({}, { logger: silentLogger(), netns })
  const spec = await guestSpec(t, COUNTER_APP, { mode: 'namespace' })
  const handle = await driver.start(spec)
  reap(t, handle)
  const name = handle.record.netns
  if (name === undefined) return t.fail('no netns in the record')
  t.true((await listNamespaces()).includes(name))
  t.regex(handle.record.endpoint.host, /^10\.210\.\d+\.\d+$/)
  t.is(handle.record.endpoint.port, 8080)
  t.is((await answering(handle)).status, 200)
  t.deepEqual(await answering(handle, '/cgi-bin/count'), { status: 200, body: '1\n' })
  t.like(await handle.stop(), { reason: 'stopped' })
  t.false((await listNamespaces()).includes(name))

  // Exit by itself, and adoption: the namespace goes with the app either way.
  const spec2 = await guestSpec(t, COUNTER_APP, { mode: 'namespace' })
  const h2 = await driver.start(spec2)
  reap(t, h2)
  await answering(h2)
  h2.detach()
  const adopted = await createProcessDriver({ pollIntervalMs: 50 }, { logger: silentLogger(), netns }).adopt(spec2, h2.record)
  if (adopted === null) return t.fail('not adopted')
  await answering(adopted, '/cgi-bin/exit?code=2')
  t.like(await adopted.exited, { reason: 'crashed' })
  t.deepEqual(await netns.list(), [])
  const logs = await readFile(join(spec2.dir, 'console.log'), 'utf8')
  t.regex(logs, /listening on port 8080/)
})
