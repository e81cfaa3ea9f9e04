import anyTest, { type TestFn } from 'ava'
import { execFileSync } from 'node:child_process'
import { copyFile, cp, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RowView } from '../../src/api/control-api.js'
import { parseAppConfig } from '../../src/app-config/parse-app-config.js'
import { toServiceRow } from '../../src/app-config/to-service-row.js'
import type { AppMachine, AppSummary } from '../../src/cli/commands/apps.js'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, httpGet, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'

interface Ctx { cluster: LocalCluster, dir: string, appDir: string, hosts: LocalHost[] }
const test = anyTest as TestFn<Ctx>

const FIXTURE = fileURLToPath(new URL('../fixtures/apps/counter-deploy', import.meta.url))
const APP = 'counter-deploy'
const DEPLOY_MS = 240_000

// The counter app's `run` serves with busybox httpd; under the process driver it runs on this host.
function busyboxMissing (): string | null {
  try {
    execFileSync('busybox', ['true'], { stdio: 'ignore' })
    return null
  } catch {
    return 'busybox is not installed (apt-get install busybox-static)'
  }
}
const missing = busyboxMissing()
const CI = ['1', 'true', 'yes'].includes((process.env.CI ?? '').toLowerCase())
const run = missing === null || CI ? test.serial : test.serial.skip

test.before(async t => {
  if (missing !== null) {
    if (CI) throw new Error(`CI: ${missing}`)
    return
  }
  const dir = await mkdtemp(join(tmpdir(), 'roost-deploy-'))
  const appDir = join(dir, 'app')
  await cp(COUNTER_APP, appDir, { recursive: true })
  await copyFile(join(FIXTURE, 'roost.toml'), join(appDir, 'roost.toml'))
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'debug', agentArgs: ['--driver', 'process'] })
  await cluster.waitForMembership()
  t.context = { cluster, dir, appDir, hosts: cluster.hosts }
})

test.after.always(async t => { await tearDownCluster(t.context.cluster, t.context.dir, line => { t.log(line) }) })

const h = (t: { context: Ctx }, i: number): LocalHost => t.context.hosts[i] as LocalHost

async function deploy (t: { context: Ctx }, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await roost(['deploy', t.context.appDir, '--data-dir', h(t, 0).dataDir, '--kernel', 'distribution', '--wait-timeout', '60', ...args], { timeoutMs: DEPLOY_MS })
}

async function deployJson (t: { context: Ctx }, args: string[]): Promise<DeployResult> {
  const r = await deploy(t, [...args, '--json'])
  if (r.code !== 0) throw new Error(`deploy failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as DeployResult
}

async function servicesRow (host: LocalHost): Promise<RowView | undefined> {
  const r = await roost(['state', 'services', '--json', '--data-dir', host.dataDir])
  if (r.code !== 0) throw new Error(r.stderr)
  return (JSON.parse(r.stdout) as RowView[]).find(row => row.key === APP)
}

/** Waits until every host holds the app's services row at this deploy version; returns the rows. */
async function rowEverywhere (t: { context: Ctx }, deployVersion: number): Promise<RowView[]> {
  return await Promise.all(t.context.hosts.map(async host => await retry(async () => {
    const row = await servicesRow(host)
    return row?.data?.deployVersion === deployVersion && row
  }, { timeoutMs: 20_000, what: `${host.name} holding deploy version ${deployVersion}` })))
}

const actions = (r: DeployResult): string[] => r.machines.map(m => `${m.action}@${m.hostName}`).sort()

run('deploy builds the app, publishes its services to every host and starts its machines on the requested hosts', async t => {
  const result = await deployJson(t, ['--count', '2', '--host', 'h2', '--host', 'h3'])
  t.is(result.app, APP)
  t.is(result.deployVersion, 1)
  t.regex(result.image, /^[0-9a-f]{64}$/)
  t.deepEqual(actions(result), ['created@h2', 'created@h3'])
  t.true(result.machines.every(m => m.state === 'started'), JSON.stringify(result.machines))

  const expected = toServiceRow(parseAppConfig(await readFile(join(FIXTURE, 'roost.toml'), 'utf8'), 'roost.toml'), 1, 0)
  for (const row of await rowEverywhere(t, 1)) {
    const { createdAt, ...data } = row.data ?? {}
    t.deepEqual({ ...data, updatedAt: 0 }, expected)
    t.is(createdAt, row.data?.updatedAt, 'a first deploy: the app dates from this write')
    t.is(row.owner, JSON.parse(await readFile(join(h(t, 0).dataDir, 'agent.json'), 'utf8')).hostId, 'written by the host that ran the deploy')
  }

  const c = await machinesClient(h(t, 0).dataDir)
  const list = await c.list(APP)
  t.deepEqual(list.map(m => m.id).sort(), result.machines.map(m => m.id).sort())
  for (const m of list) {
    t.is(m.state, 'started')
    t.is(m.config.image, result.image)
    t.deepEqual(m.config.env, { GREETING: 'v1' })
    t.deepEqual(m.config.services, [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }, { port: 443, handlers: ['tls', 'http'] }] }])
    const page = await retry(async () => { const r = await httpGet(m.endpoint, '/'); return r?.status === 200 && r }, { timeoutMs: 20_000, what: `${m.id} answering` })
    t.regex(page.text, new RegExp(m.id))
  }
})

run('a redeploy changes nothing when nothing changed, and updates every machine (new version) when the env did', async t => {
  const again = await deploy(t, [])
  t.is(again.code, 0, again.stderr)
  const [header, ...rows] = again.stdout.trimEnd().split('\n')
  t.regex(header ?? '', /^MACHINE\s+HOST\s+REGION\s+STATE\s+VERSION\s+ACTION$/)
  t.is(rows.length, 2, again.stdout)
  t.true(rows.every(r => /\sstarted\s+\d+\s+unchanged$/.test(r)), again.stdout)
  for (const row of await rowEverywhere(t, 2)) {
    t.true(Number(row.data?.createdAt) < Number(row.data?.updatedAt), 'a redeploy keeps the time of the first deploy')
  }

  const c = await machinesClient(h(t, 0).dataDir)
  const before = new Map((await c.list(APP)).map(m => [m.id, m]))
  const v2 = join(t.context.dir, 'roost-v2.toml')
  await writeFile(v2, (await readFile(join(FIXTURE, 'roost.toml'), 'utf8')).replace('GREETING = "v1"', 'GREETING = "v2"'))
  const updated = await deployJson(t, ['--config', v2])
  t.is(updated.deployVersion, 3)
  t.deepEqual(actions(updated), ['updated@h2', 'updated@h3'])
  for (const m of updated.machines) {
    const was = before.get(m.id)
    t.is(m.state, 'started')
    t.is(m.version, (was?.version ?? 0) + 1, 'an update is a new version')
    const now = await c.get(APP, m.id)
    t.deepEqual(now.config.env, { GREETING: 'v2' })
    t.not(now.instance_id, was?.instance_id)
  }
  await rowEverywhere(t, 3)
})

run('--count scales down (newest first) and back up over the alive hosts with the fewest machines', async t => {
  const c = await machinesClient(h(t, 0).dataDir)
  const v2 = join(t.context.dir, 'roost-v2.toml')
  const before = (await c.list(APP)).sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
  const down = await deployJson(t, ['--config', v2, '--count', '1'])
  t.deepEqual(down.machines.map(m => [m.id, m.action]).sort(), [[before[0]?.id, 'unchanged'], [before[1]?.id, 'destroyed']].sort())
  await retry(async () => (await c.list(APP)).length === 1, { timeoutMs: 20_000, what: 'one machine left' })

  // No --host: the new machines go to the alive hosts that hold none of the app's machines.
  const up = await deployJson(t, ['--config', v2, '--count', '3'])
  const kept = up.machines.find(m => m.id === before[0]?.id)
  t.is(kept?.action, 'unchanged')
  t.deepEqual(actions(up), ['h1', 'h2', 'h3'].map(n => n === kept?.hostName ? `unchanged@${n}` : `created@${n}`).sort())
  t.true(up.machines.every(m => m.state === 'started'))
})

run('apps list and apps status show the app\'s services and its machines', async t => {
  const list = await roost(['apps', 'list', '--json', '--data-dir', h(t, 1).dataDir])
  t.is(list.code, 0, list.stderr)
  const app = (JSON.parse(list.stdout) as AppSummary[]).find(a => a.app === APP)
  t.deepEqual(app?.ports, ['80/http (force https)', '443/tls+http'])
  t.is(app?.deployVersion, 5)
  await retry(async () => {
    const r = await roost(['apps', 'list', '--data-dir', h(t, 2).dataDir])
    return r.code === 0 && new RegExp(`^${APP}\\s+5\\s+80/http \\(force https\\), 443/tls\\+http\\s+3 started\\s`, 'm').test(r.stdout)
  }, { timeoutMs: 20_000, what: 'apps list on h3 showing 3 started machines' })

  const status = await retry(async () => {
    const r = await roost(['apps', 'status', APP, '--json', '--data-dir', h(t, 2).dataDir])
    const s = JSON.parse(r.stdout) as { machines: AppMachine[] }
    return s.machines.length === 3 && s.machines.every(m => m.health === 'passing') && s
  }, { timeoutMs: 30_000, what: 'three machines passing their check' })
  t.deepEqual(status.machines.map(m => m.hostName).sort(), ['h1', 'h2', 'h3'])
  t.true(status.machines.every(m => m.state === 'started' && m.driver === 'process' && m.endpoint !== null && m.region === 'local'))

  const text = await roost(['apps', 'status', APP, '--data-dir', h(t, 0).dataDir])
  t.is(text.code, 0, text.stderr)
  t.regex(text.stdout, /^deploy version:\s+5$/m)
  t.regex(text.stdout, /^8080\/tcp\s+80\/http \(force https\); 443\/tls\+http\s+requests soft 10 hard 20\s+off\s+yes\s+0$/m)
  t.regex(text.stdout, /^ID\s+NAME\s+HOST\s+REGION\s+STATE\s+HEALTH\s+DRIVER\s+ENDPOINT$/m)
  for (const m of status.machines) t.regex(text.stdout, new RegExp(`^${m.id}\\s+\\S+\\s+${m.hostName}\\s+local\\s+started\\s+passing\\s+process\\s+127\\.0\\.0\\.1:\\d+$`, 'm'))

  const unknown = await roost(['apps', 'status', 'no-such-app', '--data-dir', h(t, 0).dataDir])
  t.is(unknown.code, 1)
  t.regex(unknown.stderr, /^error ERR_APP_NOT_FOUND: no app 'no-such-app'/m)
})

run('a bad roost.toml fails with exit 1 naming the key and line, and changes nothing', async t => {
  const r = await deploy(t, ['--config', join(FIXTURE, 'bad-roost.toml')])
  t.is(r.code, 1)
  t.is(r.stdout, '')
  t.regex(r.stderr, /^error ERR_APP_CONFIG: \S+bad-roost\.toml:12: services\[0\]\.ports\[1\]\.force_https: force_https redirects plain HTTP to https/m)
  const json = await deploy(t, ['--config', join(FIXTURE, 'bad-roost.toml'), '--json'])
  t.is(json.code, 1)
  t.is((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'ERR_APP_CONFIG')
  const missingFile = await deploy(t, ['--config', join(t.context.dir, 'nope.toml')])
  t.is(missingFile.code, 1)
  t.regex(missingFile.stderr, /ERR_APP_CONFIG: \S+nope\.toml: cannot read it \(ENOENT\)/)
  t.is((await servicesRow(h(t, 0)))?.data?.deployVersion, 5, 'no new deploy version')
  t.is((await (await machinesClient(h(t, 0).dataDir)).list(APP)).length, 3)
})
