import anyTest, { type TestFn } from 'ava'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exited, localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, httpGet, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { releaseVmLock, vmLockFor, type VmLock } from '../helpers/vm-lock.js'
import { VM_CLUSTER_PARTS } from '../helpers/vm-cluster.js'

interface Ctx { cluster: LocalCluster, dir: string, image: string, h1: LocalHost, h2: LocalHost }
const test = anyTest as TestFn<Ctx>

const vm = await requireParts(test, VM_CLUSTER_PARTS)
const run = vm.serial
const runRoot = (await requireParts(test, [...VM_CLUSTER_PARTS, 'root'])).serial
const BOOT_MS = 60_000

let vms: VmLock | undefined

test.before(async t => {
  vms = await vmLockFor(vm)
  if (!vms.held) return
  const dir = await mkdtemp(join(tmpdir(), 'roost-machines-it-'))
  const image = await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: 'counter' }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 2, dir, logLevel: 'debug', agentArgs: ['--driver', 'qemu'] })
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [LocalHost, LocalHost]
  t.context = { cluster, dir, image: image.digest, h1, h2 }
})

test.after.always(async t => {
  await tearDownCluster(t.context.cluster, t.context.dir, line => { t.log(line) })
  await releaseVmLock(vms)
})

/**
 * Bumps the counter once: waits for the app's static file first, then one GET with a long
 * timeout (a retried GET could count twice when a slow answer was abandoned).
 */
const count = async (endpoint: MachineView['endpoint']): Promise<string | undefined> => {
  await retry(async () => (await httpGet(endpoint, '/ping.txt'))?.status === 200, { timeoutMs: BOOT_MS, what: 'guest app answering' })
  return (await httpGet(endpoint, '/cgi-bin/count', 30_000))?.text.trim()
}

/** Asks the counter app to exit with `code` (the CGI answers before the app goes). */
const askExit = async (endpoint: MachineView['endpoint'], code: number): Promise<void> => {
  await retry(async () => (await httpGet(endpoint, `/cgi-bin/exit?code=${code}`, 10_000))?.status === 200, { timeoutMs: 30_000, what: `exit ${code} asked` })
}

const wait = async (c: Awaited<ReturnType<typeof machinesClient>>, id: string, state: MachineView['state'], timeoutS = 60): Promise<MachineView> =>
  await c.wait('counter', id, state, timeoutS * 1000)

run('unauthenticated and malformed API calls are refused with their codes', async t => {
  const c = await machinesClient(t.context.h1.dataDir)
  const anon = await fetch(`${c.url}/v1/apps/counter/machines`)
  t.is(anon.status, 401)
  t.is((await anon.json() as { code: string }).code, 'ERR_UNAUTHORIZED')
  const wrong = await fetch(`${c.url}/v1/apps/counter/machines`, { headers: { authorization: 'Bearer nope' } })
  t.is(wrong.status, 401)
  const bad = await fetch(`${c.url}/v1/apps/counter/machines`, {
    method: 'POST',
    headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ config: { image: t.context.image, guest: { cpus: 'two' } } })
  })
  t.is(bad.status, 400)
  t.is((await bad.json() as { code: string }).code, 'ERR_INVALID_ARGUMENT')
  const garbage = await fetch(`${c.url}/v1/apps/counter/machines`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' }, body: '{"config":' })
  t.is(garbage.status, 400)
  await t.throwsAsync(c.create('counter', { config: { image: 'no-such-image' } }), { code: 'ERR_IMAGE' })
  await t.throwsAsync(c.get('counter', '0123456789abcd'), { code: 'ERR_MACHINE_NOT_FOUND' })
  t.is((await c.health()).ok, true)
})

run('a qemu microVM on another host: lifecycle through the first host\'s API, suspend keeps memory, illegal transitions refused', async t => {
  const c1 = await machinesClient(t.context.h1.dataDir)
  const created = await c1.create('counter', { config: { image: t.context.image, restart: { policy: 'no' }, checks: { web: { type: 'http', path: '/', interval: '1s', timeout: '1s', grace_period: '30s' } } }, host: 'h2' })
  const h2Info = JSON.parse(await readFile(join(t.context.h2.dataDir, 'agent.json'), 'utf8')) as { hostId: string }
  t.is(created.host, h2Info.hostId, 'created on h2, asked through h1')
  const started = await wait(c1, created.id, 'started')
  t.is(started.driver, 'qemu')
  const home = await retry(async () => { const r = await httpGet(started.endpoint); return r?.status === 200 && r }, { timeoutMs: BOOT_MS, what: 'guest HTTP' })
  t.regex(home.text, new RegExp(created.id))
  t.is(await count(started.endpoint), '1')
  t.is(await count(started.endpoint), '2')
  await retry(async () => (await c1.get('counter', created.id)).checks[0]?.status === 'passing', { timeoutMs: 20_000, what: 'health check passing' })
  const rows = await roost(['state', 'machines', '--json', '--data-dir', t.context.h1.dataDir])
  t.regex(rows.stdout, new RegExp(`"state": ?"started"`))

  const illegal = await t.throwsAsync(c1.action('counter', created.id, 'start'), { code: 'ERR_ILLEGAL_TRANSITION' })
  t.truthy(illegal)
  await t.throwsAsync(c1.destroy('counter', created.id, false), { code: 'ERR_ILLEGAL_TRANSITION' })
  t.is((await c1.get('counter', created.id)).state, 'started')

  await c1.action('counter', created.id, 'suspend')
  await wait(c1, created.id, 'suspended')
  t.is(await httpGet(started.endpoint, '/', 500), null, 'a suspended VM does not answer')
  await c1.action('counter', created.id, 'start')
  const resumed = await wait(c1, created.id, 'started')
  t.is(await count(resumed.endpoint), '3', 'the counter in guest memory survived suspend/resume')

  await c1.action('counter', created.id, 'stop')
  const stopped = await wait(c1, created.id, 'stopped')
  t.is(stopped.endpoint, null)
  await c1.action('counter', created.id, 'start')
  const again = await wait(c1, created.id, 'started')
  t.is(await count(again.endpoint), '1', 'a cold boot starts from the image')
  t.regex(await c1.logs('counter', created.id), /counter: listening/)

  await c1.action('counter', created.id, 'restart')
  await retry(async () => { const m = await c1.get('counter', created.id); return m.state === 'started' && m.events.some(e => e.type === 'restart') }, { timeoutMs: BOOT_MS, what: 'restarted' })
  await c1.destroy('counter', created.id, true)
  await retry(async () => (await c1.list('counter')).every(m => m.id !== created.id), { timeoutMs: 30_000, what: 'destroyed' })
})

run('restart policy on-failure restarts a guest whose app exits non-zero, up to max_retries, then fails', async t => {
  const c = await machinesClient(t.context.h1.dataDir)
  const m = await c.create('counter', { host: 'h1', config: { image: t.context.image, restart: { policy: 'on-failure', max_retries: 1 } } })
  const s1 = await wait(c, m.id, 'started')
  await retry(async () => (await httpGet(s1.endpoint))?.status === 200, { timeoutMs: BOOT_MS, what: 'guest HTTP' })
  await askExit(s1.endpoint, 3)
  const s2 = await retry(async () => { const v = await c.get('counter', m.id); return v.restarts === 1 && v.state === 'started' && v }, { timeoutMs: BOOT_MS, what: 'restart 1' })
  t.is(s2.events.find(e => e.type === 'exit')?.exit_code, 3)
  await retry(async () => (await httpGet(s2.endpoint))?.status === 200, { timeoutMs: BOOT_MS, what: 'guest HTTP after restart' })
  await askExit(s2.endpoint, 4)
  const failed = await wait(c, m.id, 'failed')
  t.is(failed.events.find(e => e.type === 'exit')?.exit_code, 4)
  await c.destroy('counter', m.id, false)
})

run('after the agent is killed with -9, a restarted agent re-adopts running VMs and restarts by policy those that died', async t => {
  const { h1 } = t.context
  const c = await machinesClient(h1.dataDir)
  const keep = await c.create('counter', { host: 'h1', config: { image: t.context.image, restart: { policy: 'no' } } })
  const dies = await c.create('counter', { host: 'h1', config: { image: t.context.image, restart: { policy: 'always' } } })
  const k = await wait(c, keep.id, 'started')
  const d = await wait(c, dies.id, 'started')
  await retry(async () => (await httpGet(k.endpoint))?.status === 200, { timeoutMs: BOOT_MS, what: 'keep HTTP' })
  t.is(await count(k.endpoint), '1')
  const keepPid = await retry(async () => {
    const r = await roost(['machines', 'status', keep.id, '--app', 'counter', '--json', '--data-dir', h1.dataDir])
    return r.code === 0 && (JSON.parse(r.stdout) as MachineView).events.find(e => e.type === 'launch')?.message
  }, { what: 'CLI status' })
  t.regex(keepPid, /pid \d+/)

  h1.process.kill('SIGKILL')
  await exited(h1.process)
  const diesPid = Number(/pid (\d+)/.exec(d.events.find(e => e.type === 'launch')?.message ?? '')?.[1])
  t.true(diesPid > 0)
  process.kill(diesPid, 'SIGKILL')
  t.is(await count(k.endpoint), '2', 'the VM outlives its agent')

  await t.context.cluster.startHost('h1')
  const c2 = await machinesClient(h1.dataDir)
  const adopted = await retry(async () => { const v = await c2.get('counter', keep.id); return v.state === 'started' && v.events.some(e => e.type === 'adopt') && v }, { timeoutMs: 30_000, what: 'keep re-adopted' })
  t.deepEqual(adopted.endpoint, k.endpoint)
  t.is(await count(adopted.endpoint), '3', 'same VM, same memory')
  const restarted = await retry(async () => { const v = await c2.get('counter', dies.id); return v.state === 'started' && v.restarts >= 1 && v }, { timeoutMs: BOOT_MS, what: 'dead VM restarted by policy' })
  await retry(async () => (await httpGet(restarted.endpoint))?.status === 200, { timeoutMs: BOOT_MS, what: 'restarted HTTP' })

  const list = await roost(['machines', 'list', '--app', 'counter', '--json', '--data-dir', h1.dataDir])
  t.is(list.code, 0, list.stderr)
  const ids = (JSON.parse(list.stdout) as MachineView[]).map(m => m.id)
  t.true(ids.includes(keep.id) && ids.includes(dies.id), list.stdout)
  const stop = await roost(['machines', 'stop', keep.id, '--app', 'counter', '--data-dir', h1.dataDir])
  t.is(stop.code, 0, stop.stderr)
  await wait(c2, keep.id, 'stopped')
  const pid = Number(/pid (\d+)/.exec(keepPid)?.[1])
  await retry(() => { try { process.kill(pid, 0); return false } catch { return true } }, { what: 'the stopped VM process is gone' })
  for (const id of [keep.id, dies.id]) {
    const r = await roost(['machines', 'destroy', id, '--app', 'counter', '--force', '--data-dir', h1.dataDir])
    t.is(r.code, 0, r.stderr)
  }
  await retry(async () => (await c2.list('counter')).every(m => m.id !== keep.id && m.id !== dies.id), { timeoutMs: 60_000, what: 'both destroyed' }).catch(async (err: unknown) => {
    t.log(JSON.stringify((await c2.list('counter')).map(m => [m.id, m.state, m.events.slice(0, 4)])))
    throw err
  })
})

run('the process driver runs the same image\'s app as a host process', async t => {
  const c = await machinesClient(t.context.h2.dataDir)
  const m = await c.create('counter', { host: 'h2', config: { image: 'counter', driver: 'process', restart: { policy: 'no' } } })
  const s = await wait(c, m.id, 'started')
  t.is(s.driver, 'process')
  t.is(await count(s.endpoint), '1')
  await t.throwsAsync(c.action('counter', m.id, 'suspend'), { code: 'ERR_ILLEGAL_TRANSITION' })
  await c.destroy('counter', m.id, true)
  await retry(async () => (await c.list('counter')).every(x => x.id !== m.id), { what: 'destroyed' })
})

runRoot('the process driver runs it in a network namespace, reached at the namespace address', async t => {
  const c = await machinesClient(t.context.h2.dataDir)
  const ns = await c.create('counter', { host: 'h2', config: { image: 'counter', driver: 'process', network: 'namespace', restart: { policy: 'no' } } })
  const n = await wait(c, ns.id, 'started')
  t.regex(n.endpoint?.host ?? '', /^10\.210\./, 'reached at its namespace address')
  t.is(await count(n.endpoint), '1')
  await c.destroy('counter', ns.id, true)
  await retry(async () => (await c.list('counter')).every(x => x.id !== ns.id), { what: 'destroyed' })
})
