import anyTest, { type TestFn } from 'ava'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { isSameProcess } from '../../src/vmm/proc-info.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, httpGet, machinesClient, recordedVmPids, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'

// `roost host drain` on real agents (process driver, three hosts): the drained host's machines
// move to the others one by one — same ids, next generation, started before the old copies go —
// whatever their failover choice, and nothing new is placed on it until `undrain`.

interface Ctx { cluster: LocalCluster, dir: string }
const test = anyTest as TestFn<Ctx>

test.before(async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-drain-'))
  await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: 'counter' }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'debug', agentArgs: ['--driver', 'process'] })
  t.context = { cluster, dir }
  await cluster.waitForMembership()
})

test.after.always(async t => { await tearDownCluster(t.context.cluster, t.context.dir) })

const live = (h: LocalHost): number => recordedVmPids(h.dataDir).filter(p => isSameProcess(p.pid, p.pidStartTicks)).length

test.serial('drain moves every machine off a host (same id, next generation, started first); undrain lets placement use it again', async t => {
  const [h1, h2, h3] = t.context.cluster.hosts as [LocalHost, LocalHost, LocalHost]
  const api = await machinesClient(h2.dataDir)
  const a = await api.create('web', { config: { image: 'counter', driver: 'process', restart: { policy: 'always' } }, host: 'h1' })
  const b = await api.create('web', { config: { image: 'counter', driver: 'process', restart: { policy: 'no' } }, host: 'h1' })
  await retry(async () => (await api.list('web')).filter(m => m.state === 'started').length === 2, { timeoutMs: 30_000, what: 'both started on h1' })
  t.is(live(h1), 2)

  const r = await roost(['host', 'drain', 'h1', '--wait', '--timeout', '120', '--json', '--data-dir', h2.dataDir], { timeoutMs: 150_000 })
  t.is(r.code, 0, r.stderr)
  t.like(JSON.parse(r.stdout), { draining: true, machines: 0 })
  const moved = await retry(async () => {
    const ms = await api.list('web')
    return ms.length === 2 && ms.every(m => m.generation === 2 && m.state === 'started') && ms
  }, { timeoutMs: 30_000, what: 'both machines at generation 2, started' })
  t.deepEqual(moved.map(m => m.id).sort(), [a.id, b.id].sort(), 'the ids stay')
  const h1Id = a.host
  t.true(moved.every(m => m.host !== h1Id), 'nothing left on h1')
  for (const m of moved) {
    await retry(async () => (await httpGet(m.endpoint, '/ping.txt'))?.status === 200, { timeoutMs: 30_000, what: `${m.id} answering` })
    t.true(m.events.some(e => e.type === 'failover'))
  }
  await retry(() => live(h1) === 0, { timeoutMs: 30_000, what: 'h1 running nothing' })
  t.is(live(h2) + live(h3), 2, 'each machine once')

  const placed = await (await machinesClient(h1.dataDir)).create('other', { config: { image: 'counter', driver: 'process' }, skip_launch: true })
  t.not(placed.host, h1Id, 'placement skips a draining host, even the one the request reached')
  const status = await roost(['host', 'status', 'h1', '--json', '--data-dir', h2.dataDir])
  t.like(JSON.parse(status.stdout), { draining: true, fence: 'serving', evacuated: 2 })

  const u = await roost(['host', 'undrain', 'h1', '--data-dir', h2.dataDir])
  t.is(u.code, 0, u.stderr)
  await retry(async () => {
    const rows = JSON.parse((await roost(['state', 'hosts', '--json', '--data-dir', h1.dataDir])).stdout) as Array<{ owner: string, data: { draining?: boolean } }>
    return rows.find(x => x.owner === h1Id)?.data.draining === false
  }, { timeoutMs: 10_000, what: 'h1\'s row no longer draining' })
  const again = await (await machinesClient(h1.dataDir)).create('third', { config: { image: 'counter', driver: 'process' }, skip_launch: true })
  t.is(again.host, h1Id, 'an undrained host takes machines again')
})
