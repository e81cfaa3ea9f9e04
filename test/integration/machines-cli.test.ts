import anyTest, { type TestFn } from 'ava'
import Database from 'better-sqlite3'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RowView } from '../../src/api/control-api.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, httpGet, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { requireParts } from '../helpers/requirements.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// `roost machines …` and the Machines API against real agents: two hosts on the process driver
// (the qemu driver for suspend/resume), the counter app, and its effects checked where they
// land — the app answering, the machine's state, its store, the other host's gossiped row.

interface Ctx { cluster: LocalCluster, dir: string, h1: LocalHost, h2: LocalHost }
const test = anyTest as TestFn<Ctx>

const APP = 'counter'
const BOOT_MS = 60_000
const qemuTest = await requireParts(test, ['qemu', 'debian-tools'])

test.before(async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-machines-cli-'))
  await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: 'counter' }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 2, dir, logLevel: 'debug', agentArgs: ['--driver', 'process'] })
  t.context = { cluster, dir, h1: cluster.hosts[0] as LocalHost, h2: cluster.hosts[1] as LocalHost }
  await cluster.waitForMembership()
})

test.after.always(async t => { await tearDownCluster(t.context.cluster, t.context.dir, line => { t.log(line) }) })

/** `roost machines <args> --app counter --data-dir <host>`; fails the call unless it exits 0 (when `ok`). */
async function machines (h: LocalHost, args: string[], ok = true): Promise<{ code: number, stdout: string, stderr: string }> {
  const r = await roost(['machines', ...args, '--app', APP, '--data-dir', h.dataDir], { timeoutMs: 120_000 })
  if (ok && r.code !== 0) throw new Error(`roost machines ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r
}

/** Bumps the app's counter once (after its static file answers) and returns the count. */
async function count (endpoint: MachineView['endpoint']): Promise<string | undefined> {
  await retry(async () => (await httpGet(endpoint, '/ping.txt'))?.status === 200, { timeoutMs: BOOT_MS, what: 'the app answering' })
  return (await httpGet(endpoint, '/cgi-bin/count', 30_000))?.text.trim()
}

const gossipedRow = async (h: LocalHost, id: string): Promise<Record<string, unknown> | undefined> => {
  const r = await roost(['state', 'machines', '--json', '--data-dir', h.dataDir])
  if (r.code !== 0) throw new Error(r.stderr)
  return (JSON.parse(r.stdout) as RowView[]).find(row => row.key === id)?.data as Record<string, unknown> | undefined
}

/** The machine's record in the agent's own store (machines.db), as a restarted agent would read it. */
function storedRecord (h: LocalHost, id: string): { config: { metadata?: Record<string, string>, env?: Record<string, string> }, cordoned: boolean, version: number } {
  const db = new Database(join(h.dataDir, 'machines.db'), { readonly: true, fileMustExist: true })
  try {
    const row = db.prepare<[string], { record: string }>('SELECT record FROM machines WHERE id = ?').get(id)
    if (row === undefined) throw new Error(`no stored record for ${id}`)
    return JSON.parse(row.record) as never
  } finally {
    db.close()
  }
}

test.serial('machines run/logs/wait through the CLI, and the API\'s update, metadata and cordon, on a real agent', async t => {
  const { h1, h2 } = t.context
  const run = await machines(h1, ['run', 'counter', '--host', 'h1', '--driver', 'process', '--restart', 'no', '--env', 'GREETING=v1', '--wait', '--json'])
  const m = JSON.parse(run.stdout) as MachineView
  t.is(m.state, 'started')
  t.is(m.driver, 'process')
  t.deepEqual(m.config.env, { GREETING: 'v1' })
  const home = await retry(async () => { const r = await httpGet(m.endpoint); return r?.status === 200 ? r : undefined }, { timeoutMs: BOOT_MS, what: 'the app\'s page' })
  t.regex(home.text, new RegExp(`counter on roost machine ${m.id}`), 'the app runs as this machine')
  t.is(await count(m.endpoint), '1')

  const logs = await machines(h1, ['logs', m.id])
  t.regex(logs.stdout, new RegExp(`counter: listening on port \\d+ \\(machine ${m.id}\\)`))
  t.is((await machines(h1, ['wait', m.id, '--state', 'started', '--timeout', '5'])).stdout, `${m.id}: started\n`)
  const notYet = await machines(h1, ['wait', m.id, '--state', 'stopped', '--timeout', '1', '--json'], false)
  t.is(notYet.code, 1)
  t.is((JSON.parse(notYet.stdout) as { error: { code: string } }).error.code, 'ERR_WAIT_TIMEOUT')
  const noSuspend = await machines(h1, ['suspend', m.id], false)
  t.is(noSuspend.code, 1, 'the process driver cannot suspend')
  t.regex(noSuspend.stderr, /ERR_ILLEGAL_TRANSITION/)

  // The API's update: a new config version, the app relaunched with it.
  const api = await machinesClient(h1.dataDir)
  const updated = await api.update(APP, m.id, { config: { ...m.config, env: { GREETING: 'v2' } } })
  t.is(updated.version, m.version + 1)
  t.not(updated.instance_id, m.instance_id)
  const relaunched = await api.wait(APP, m.id, 'started', BOOT_MS, updated.instance_id)
  t.deepEqual(relaunched.config.env, { GREETING: 'v2' })
  t.true(relaunched.events.some(e => e.type === 'update'))
  t.is(await count(relaunched.endpoint), '1', 'a fresh app process: the counter starts over')
  t.deepEqual(storedRecord(h1, m.id).config.env, { GREETING: 'v2' }, 'the new config is stored')
  t.is((await gossipedRow(h2, m.id))?.configVersion, updated.version, 'and gossiped')

  // Metadata: set and deleted through the API of the other host (an actor message to h1), persisted by h1.
  const api2 = await machinesClient(h2.dataDir)
  t.deepEqual(await api2.setMetadata(APP, m.id, 'role', 'web'), { role: 'web' })
  t.deepEqual(await api.setMetadata(APP, m.id, 'tier', 'gold'), { role: 'web', tier: 'gold' })
  t.deepEqual(await api.getMetadata(APP, m.id), { role: 'web', tier: 'gold' })
  t.deepEqual(storedRecord(h1, m.id).config.metadata, { role: 'web', tier: 'gold' }, 'persisted in the agent\'s store')
  t.deepEqual(await api2.deleteMetadata(APP, m.id, 'role'), { tier: 'gold' })
  t.deepEqual(storedRecord(h1, m.id).config.metadata, { tier: 'gold' })
  t.is((await api.get(APP, m.id)).state, 'started', 'metadata changes do not touch the running machine')

  // Cordon: the flag in the view (both hosts' APIs), the store, h2's gossiped row and the CLI's list.
  t.true((await api.action(APP, m.id, 'cordon')).cordoned)
  t.true((await api2.get(APP, m.id)).cordoned)
  t.true(storedRecord(h1, m.id).cordoned)
  await retry(async () => (await gossipedRow(h2, m.id))?.cordoned === true, { timeoutMs: 15_000, what: 'the cordoned flag gossiped to h2' })
  t.regex((await machines(h1, ['list'])).stdout, new RegExp(`^${m.id}\\s+\\S+\\s+started \\(cordoned\\)`, 'm'))
  t.is(await count(relaunched.endpoint), '2', 'a cordoned machine keeps running')
  t.false((await api.action(APP, m.id, 'uncordon')).cordoned)
  await retry(async () => (await gossipedRow(h2, m.id))?.cordoned === false, { timeoutMs: 15_000, what: 'the uncordon gossiped to h2' })

  t.is((await machines(h1, ['destroy', m.id, '--force'])).stdout, `${m.id}: destroying\n`)
  await machines(h1, ['wait', m.id, '--state', 'destroyed', '--timeout', '30'])
  t.is(await httpGet(relaunched.endpoint, '/ping.txt', 1_000), null, 'the app is gone')
})

qemuTest.serial('machines suspend/resume through the CLI keep a qemu guest\'s memory', async t => {
  t.timeout(5 * 60_000)
  const release = await acquireVmLock()
  t.teardown(release)
  const { h1 } = t.context
  const m = JSON.parse((await machines(h1, ['run', 'counter', '--host', 'h1', '--driver', 'qemu', '--restart', 'no', '--wait', '--json'])).stdout) as MachineView
  t.teardown(async () => { await machines(h1, ['destroy', m.id, '--force'], false) })
  t.is(m.driver, 'qemu')
  t.is(await count(m.endpoint), '1')
  t.is(await count(m.endpoint), '2')

  t.regex((await machines(h1, ['suspend', m.id])).stdout, new RegExp(`^${m.id}: (suspending|suspended)\\n$`))
  t.is((await machines(h1, ['wait', m.id, '--state', 'suspended', '--timeout', '60'])).stdout, `${m.id}: suspended\n`)
  t.is(await httpGet(m.endpoint, '/ping.txt', 500), null, 'a suspended guest does not answer')
  const status = JSON.parse((await machines(h1, ['status', m.id, '--json'])).stdout) as MachineView
  t.is(status.state, 'suspended')
  t.is(status.endpoint, null)

  await machines(h1, ['resume', m.id])
  t.is((await machines(h1, ['wait', m.id, '--state', 'started', '--timeout', '60'])).stdout, `${m.id}: started\n`)
  const resumed = JSON.parse((await machines(h1, ['status', m.id, '--json'])).stdout) as MachineView
  t.is(await count(resumed.endpoint), '3', 'the counter in guest memory survived suspend and resume')
  t.regex((await machines(h1, ['logs', m.id])).stdout, /counter: listening/)
})
