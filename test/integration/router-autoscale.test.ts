import anyTest, { type ExecutionContext, type TestFn } from 'ava'
import { request } from 'node:http'
import { connect } from 'node:net'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MachineView } from '../../src/api/machines/schemas.js'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, httpGet, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { requireParts } from '../helpers/requirements.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// Autostart and autostop (issue 12 item 6) with real agents: apps deployed with `roost deploy`
// from roost.toml fixtures, requests sent to the routers' loopback listeners, and the machines'
// states and events read back through the Machines API. The qemu driver suspends and resumes
// real microVMs (TCG); the process driver stops and starts processes.

const test = anyTest as TestFn
const qemuTest = await requireParts(test, ['qemu', 'debian-tools', 'busybox-static'])
const processTest = await requireParts(test, ['busybox-static'])

const AUTOSCALE = fileURLToPath(new URL('../fixtures/apps/autoscale', import.meta.url))
const FAST_HTTP = fileURLToPath(new URL('../fixtures/apps/fast-http', import.meta.url))
/** Seconds a machine must be idle before autostop takes it (the agents' --autostop-interval). */
const AUTOSTOP_S = 2
/** Generous bounds: they only prove nothing hangs. */
const DEPLOY_MS = 240_000
const SETTLE_MS = 60_000

/** A local cluster on its own loopback addresses, stopped (and its machines killed) in teardown. */
async function cluster (t: ExecutionContext, hosts: number, agentArgs: string[]): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-autoscale-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const c = await startLocalCluster({ binPath: BIN, hosts, dir, logLevel: 'debug', agentArgs: [...agentArgs, '--autostop-interval', String(AUTOSTOP_S)] })
  t.teardown(async () => { await tearDownCluster(c, undefined, line => { t.log(line) }) })
  await c.waitForMembership()
  return c
}

async function deploy (t: ExecutionContext, h: LocalHost, appDir: string, config: string, args: string[]): Promise<DeployResult> {
  const r = await roost(['deploy', appDir, '--config', config, '--data-dir', h.dataDir, '--wait-timeout', '120', '--json', ...args], { timeoutMs: DEPLOY_MS })
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}): ${r.stderr}`)
  const result = JSON.parse(r.stdout) as DeployResult
  t.log(`deployed ${result.app}: ${result.machines.map(m => `${m.id}@${m.hostName} ${m.action}`).join(', ')}`)
  return result
}

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, text: string }

/** One GET through a router (a fresh connection), or the error that ended it. */
async function get (h: LocalHost, port: number, path: string, timeoutMs = 90_000): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: h.address, port, path, agent: false, timeout: timeoutMs }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer from ${h.address}:${port}${path} in ${timeoutMs} ms`)) })
    req.on('error', reject)
    req.end()
  })
}

const byId = (a: { id: string }, b: { id: string }): number => a.id < b.id ? -1 : 1

/** The types of a machine's events, oldest first, from the first one of `since` on. */
function eventsSince (m: MachineView, since: number): string[] {
  return [...m.events].reverse().filter(e => e.timestamp >= since).map(e => `${e.type}:${e.status}`)
}

interface RoutesView {
  apps: Array<{ app: string, counters: Record<string, number>, machines: Array<{ id: string, state: string, health: string, cordoned: boolean, routable: boolean }> }>
  autostop: { intervalMs: number, stopped: number, started: number }
}

async function routes (h: LocalHost, app: string): Promise<RoutesView> {
  const r = await roost(['routes', app, '--json', '--data-dir', h.dataDir])
  if (r.code !== 0) throw new Error(`roost routes: ${r.stderr}`)
  return JSON.parse(r.stdout) as RoutesView
}

qemuTest.serial('autostop suspends an idle microVM above min_machines_running, cordoned first; a request through another host\'s router resumes it with its memory', async t => {
  t.timeout(10 * 60_000)
  const release = await acquireVmLock()
  t.teardown(release)
  const c = await cluster(t, 2, ['--driver', 'qemu'])
  const [h1, h2] = c.hosts as [LocalHost, LocalHost]
  const api = await machinesClient(h1.dataDir)
  const config = join(AUTOSCALE, 'suspend.toml')
  const source = await readFile(config, 'utf8')
  const cfgDir = await mkdtemp(join(tmpdir(), 'roost-autoscale-cfg-'))
  t.teardown(async () => { await rm(cfgDir, { recursive: true, force: true }) })
  const withMin = async (n: number): Promise<string> => {
    const file = join(cfgDir, `min-${n}.toml`)
    await writeFile(file, source.replace('min_machines_running = 2', `min_machines_running = ${n}`))
    return file
  }
  const deployed = await deploy(t, h1, COUNTER_APP, config, ['--count', '2', '--host', 'h1'])
  t.true(deployed.machines.every(m => m.state === 'started'))

  // min_machines_running = 2 keeps both up while the test leaves state in their memory.
  const [kept, idle] = (await api.list('wake')).sort(byId) as [MachineView, MachineView]
  t.is(kept.driver, 'qemu')
  const counts = new Map<string, number>([[kept.id, 1], [idle.id, 2]])
  for (const m of [kept, idle]) {
    for (let i = 1; i <= (counts.get(m.id) ?? 0); i++) {
      const r = await retry(async () => (await httpGet(m.endpoint, '/cgi-bin/count', 30_000)) ?? undefined, { timeoutMs: SETTLE_MS, what: `${m.id} counting` })
      t.is(r.text.trim(), String(i))
    }
  }

  // min_machines_running = 1: every host keeps the same one (primary region, then the lowest id);
  // the other, idle for the interval, is cordoned, suspended, then uncordoned.
  const since = Date.now()
  await deploy(t, h1, COUNTER_APP, await withMin(1), [])
  const suspended = await retry(async () => {
    const m = await api.get('wake', idle.id)
    return m.state === 'suspended' && !m.cordoned && m.events.some(e => e.type === 'uncordon') && m
  }, { timeoutMs: SETTLE_MS, intervalMs: 200, what: 'the idle machine suspended and uncordoned again' })
  const steps = eventsSince(suspended, since).filter(e => /^(cordon|uncordon|suspend)/.test(e))
  t.deepEqual(steps, ['cordon:started', 'suspend:suspending', 'suspend:suspended', 'uncordon:suspended'], 'cordoned, then suspended, then uncordoned')

  // The kept machine stays started and is never cordoned, over several autostop rounds.
  const until = Date.now() + 3 * AUTOSTOP_S * 1000
  await retry(async () => {
    const m = await api.get('wake', kept.id)
    t.is(m.state, 'started')
    t.false(m.cordoned)
    t.false(m.events.some(e => e.type === 'cordon'), 'the kept machine is never cordoned')
    return Date.now() >= until
  }, { timeoutMs: 6 * AUTOSTOP_S * 1000, intervalMs: 250, what: 'three autostop intervals' })
  t.is((await routes(h1, 'wake')).autostop.stopped, 1)

  // min_machines_running = 0: the redeploy resumes the suspended one (a deploy leaves its app
  // running), then autostop suspends both.
  await deploy(t, h1, COUNTER_APP, await withMin(0), [])
  const asleep = await retry(async () => {
    const ms = await api.list('wake')
    return ms.every(m => m.state === 'suspended' && !m.cordoned) && ms
  }, { timeoutMs: SETTLE_MS, intervalMs: 200, what: 'both machines suspended' })

  // No started machine: a request through h2's router wakes one on h1 (over the backhaul) and is answered.
  const t0 = Date.now()
  const r = await get(h2, 8101, '/cgi-bin/count')
  const ms = Date.now() - t0
  t.is(r.status, 200, r.text)
  const after = (await api.list('wake')).sort(byId)
  const woken = after.filter(m => m.state === 'started')
  t.is(woken.length, 1, 'one machine was woken')
  const w = woken[0] as MachineView
  t.is(w.boot?.mode, 'resume', 'resumed from its suspend snapshot')
  t.is(r.text.trim(), String((counts.get(w.id) ?? 0) + 1), 'the counter in guest memory survived suspend and resume')
  t.log(`autostart: suspended → first response through the other host's router in ${ms} ms (machine ${w.id}; ${asleep.length} were suspended)`)
  t.true(ms < 60_000)
  t.true((await routes(h2, 'wake')).autostop.started >= 1, 'h2\'s router started it')
})

processTest.serial('autostop stops an idle process machine (cordon, stop, uncordon) and a request starts it again', async t => {
  const c = await cluster(t, 2, ['--driver', 'process'])
  const [h1] = c.hosts as [LocalHost, LocalHost]
  const api = await machinesClient(h1.dataDir)
  const [m0] = (await deploy(t, h1, COUNTER_APP, join(AUTOSCALE, 'stop.toml'), ['--count', '1', '--host', 'h1'])).machines
  const id = (m0 as { id: string }).id
  const first = await retry(async () => { const r = await get(h1, 8102, '/cgi-bin/count', 10_000); return r.status === 200 && r }, { timeoutMs: SETTLE_MS, what: 'the app answering through the router' })
  t.is(first.text.trim(), '1')

  const stopped = await retry(async () => {
    const m = await api.get('idle', id)
    return m.state === 'stopped' && !m.cordoned && m.events.some(e => e.type === 'uncordon') && m
  }, { timeoutMs: SETTLE_MS, intervalMs: 200, what: 'the machine stopped by autostop and uncordoned' })
  const steps = eventsSince(stopped, 0).filter(e => /^(cordon|uncordon|stop|exit)/.test(e))
  t.deepEqual(steps, ['cordon:started', 'stop:stopping', 'exit:stopped', 'uncordon:stopped'])
  // The router's table follows the machine's row through gossip: under a loaded run it can still
  // hold the machine cordoned (not to be woken) a moment after the machines API says uncordoned.
  await retry(async () => {
    const m = (await routes(h1, 'idle')).apps.find(a => a.app === 'idle')?.machines.find(m => m.id === id)
    return m?.state === 'stopped' && !m.cordoned
  }, { timeoutMs: SETTLE_MS, intervalMs: 200, what: 'h1\'s router holding the machine stopped and uncordoned' })

  const t0 = Date.now()
  const r = await get(h1, 8102, '/cgi-bin/count')
  t.is(r.status, 200, r.text)
  t.is(r.text.trim(), '1', 'a stopped machine boots afresh')
  t.log(`autostart: stopped → first response ${Date.now() - t0} ms`)
  t.is((await api.get('idle', id)).state, 'started')
  const view = await routes(h1, 'idle')
  t.is(view.autostop.stopped, 1)
  t.is(view.autostop.started, 1)
})

processTest.serial('when every started machine is over its soft limit, the router starts another, which then takes traffic', async t => {
  const c = await cluster(t, 2, ['--driver', 'process'])
  const [h1] = c.hosts as [LocalHost, LocalHost]
  const api = await machinesClient(h1.dataDir)
  await deploy(t, h1, COUNTER_APP, join(AUTOSCALE, 'soft.toml'), ['--count', '2', '--host', 'h1'])
  const [a, b] = (await api.list('busy')).sort(byId) as [MachineView, MachineView]
  await api.action('busy', b.id, 'stop')
  await api.wait('busy', b.id, 'stopped', 30_000)
  await retry(async () => (await api.get('busy', a.id)).checks.every(ch => ch.status === 'passing'), { timeoutMs: SETTLE_MS, what: 'the started machine passing its check' })
  await retry(async () => (await get(h1, 8103, '/ping.txt', 10_000)).status === 200, { timeoutMs: SETTLE_MS, what: 'the router serving the app' })

  // soft_limit = 2: the third concurrent slow request finds every started machine over it.
  const slow = await Promise.all(Array.from({ length: 5 }, async () => await get(h1, 8103, '/cgi-bin/slow?s=3')))
  t.deepEqual(slow.map(r => r.status), [200, 200, 200, 200, 200], slow.map(r => r.text).join(''))
  const started = await api.wait('busy', b.id, 'started', 30_000)
  t.true(started.events.some(e => e.type === 'start' || e.type === 'launch'))
  t.is((await routes(h1, 'busy')).autostop.started, 1)

  // Once its check passes (as h1's router sees it), the new machine takes its share of the load.
  await retry(async () => (await routes(h1, 'busy')).apps[0]?.machines.find(m => m.id === b.id)?.health === 'passing', { timeoutMs: SETTLE_MS, intervalMs: 200, what: 'h1\'s router seeing the new machine pass its check' })
  const again = await Promise.all(Array.from({ length: 4 }, async () => await get(h1, 8103, '/cgi-bin/slow?s=2')))
  t.true(again.every(r => r.status === 200))
  t.true(again.some(r => r.text.includes(b.id)), again.map(r => r.text).join(''))
  t.true(again.some(r => r.text.includes(a.id)), again.map(r => r.text).join(''))
})

processTest.serial('a WebSocket through either host\'s router gets a close frame (1001) when its machine is cordoned', async t => {
  const c = await cluster(t, 2, ['--driver', 'process'])
  const [h1, h2] = c.hosts as [LocalHost, LocalHost]
  const api = await machinesClient(h1.dataDir)
  const [m0] = (await deploy(t, h1, FAST_HTTP, join(FAST_HTTP, 'roost.toml'), ['--count', '1', '--host', 'h1'])).machines
  const id = (m0 as { id: string }).id
  for (const h of [h1, h2]) await retry(async () => (await get(h, 8201, '/', 10_000)).status === 200, { timeoutMs: SETTLE_MS, what: `${h.name}'s router serving the app` })

  const open = async (h: LocalHost): Promise<{ received: () => Buffer, closed: () => boolean }> => {
    const s = connect({ host: h.address, port: 8201 })
    const chunks: Buffer[] = []
    let closed = false
    s.on('close', () => { closed = true })
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('error', () => {})
    s.write('GET /ws HTTP/1.1\r\nhost: fast\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    const text = (): string => Buffer.concat(chunks).toString('latin1')
    await retry(() => text().includes('\r\n\r\n'), { timeoutMs: 10_000, what: `${h.name}: the upgrade answered` })
    t.regex(text(), /^HTTP\/1\.1 101 /)
    s.write(Buffer.from([0x81, 0x84, 0, 0, 0, 0, ...Buffer.from('ping')]))
    await retry(() => text().endsWith('ping'), { timeoutMs: 10_000, what: `${h.name}: a frame through the tunnel` })
    chunks.length = 0
    return { received: () => Buffer.concat(chunks), closed: () => closed }
  }
  const local = await open(h1)
  const remote = await open(h2)
  await api.action('fast', id, 'cordon')
  for (const ws of [local, remote]) {
    await retry(() => ws.closed(), { timeoutMs: 15_000, what: 'the router closing the tunnel' })
    t.deepEqual([...ws.received()], [0x88, 0x02, 0x03, 0xe9], 'a close frame, status 1001 (going away)')
  }
})
