import anyTest, { type TestFn } from 'ava'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RowView } from '../../src/api/control-api.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'

// Placement on real agents (process driver): h1 and h2 in region ams, h3 in ord; h2 has room
// for one 128 MiB machine only. Requests go to h1; where the machines land is read back from
// the API and from every host's store of VMs.

interface Ctx { cluster: LocalCluster, dir: string, h1: LocalHost, h2: LocalHost, h3: LocalHost, ids: Map<string, string> }
const test = anyTest as TestFn<Ctx>

const REGIONS: Record<string, string> = { h1: 'ams', h2: 'ams', h3: 'ord' }

test.before(async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-placement-'))
  await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: 'counter' }, { logger: silentLogger() })
  const cluster = await startLocalCluster({
    binPath: BIN,
    hosts: 3,
    dir,
    logLevel: 'debug',
    agentArgs: ['--driver', 'process'],
    perHost: (name) => ({ args: ['--region', REGIONS[name] ?? 'ams', ...(name === 'h2' ? ['--capacity-memory-mb', '200'] : [])] })
  })
  const [h1, h2, h3] = cluster.hosts as [LocalHost, LocalHost, LocalHost]
  t.context = { cluster, dir, h1, h2, h3, ids: new Map(cluster.hosts.map(h => [h.name, ''])) }
  await cluster.waitForMembership()
  for (const h of cluster.hosts) {
    const info = JSON.parse(await readFile(join(h.dataDir, 'agent.json'), 'utf8')) as { hostId: string }
    t.context.ids.set(h.name, info.hostId)
  }
  await retry(async () => (await hostRows(h1)).length === 3, { timeoutMs: 30_000, what: 'h1 seeing every host row' })
})

test.after.always(async t => { await tearDownCluster(t.context.cluster, t.context.dir) })

async function hostRows (h: LocalHost): Promise<Array<RowView & { data: { region: string, memoryFreeMb: number } }>> {
  const r = await roost(['state', 'hosts', '--json', '--data-dir', h.dataDir])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as never
}

const nameOf = (t: { context: Ctx }, hostId: string): string => [...t.context.ids].find(([, id]) => id === hostId)?.[0] ?? hostId

test.serial('machines created through one host spread over the hosts that have room; a full host is skipped', async t => {
  const { h1, h2 } = t.context
  const api = await machinesClient(h1.dataDir)
  const placed: MachineView[] = []
  for (let i = 0; i < 3; i++) placed.push(await api.create('spread', { config: { image: 'counter', driver: 'process', restart: { policy: 'no' } }, skip_launch: true }))
  t.deepEqual(placed.map(m => nameOf(t, m.host)).sort(), ['h1', 'h2', 'h3'], 'one machine per host')
  t.is(placed[0]?.host, t.context.ids.get('h1'), 'the first goes to the host the request reached')
  await retry(async () => (await hostRows(h1)).find(r => r.owner === t.context.ids.get('h2'))?.data.memoryFreeMb === 72,
    { timeoutMs: 30_000, what: 'h2\'s row showing 72 MiB free' })
  const fourth = await api.create('spread', { config: { image: 'counter', driver: 'process', restart: { policy: 'no' } }, skip_launch: true })
  t.not(fourth.host, t.context.ids.get('h2'), 'h2 has no room left')
  const direct = await (await machinesClient(h2.dataDir)).create('other', { config: { image: 'counter', driver: 'process' }, skip_launch: true, host: 'h2' })
    .then(() => null, (err: unknown) => err as Error & { code?: string })
  t.is(direct?.code, 'ERR_NO_CAPACITY', 'a host refuses what does not fit, even when named')
})

test.serial('a region is honoured, and a region with no host is a typed error', async t => {
  const { h1, h3 } = t.context
  const api = await machinesClient(h1.dataDir)
  const m = await api.create('regional', { config: { image: 'counter', driver: 'process' }, region: 'ord', skip_launch: true })
  t.is(m.host, t.context.ids.get('h3') ?? '?')
  t.is(m.region, 'ord')
  const err = await api.create('regional', { config: { image: 'counter', driver: 'process' }, region: 'syd', skip_launch: true }).then(() => null, (e: unknown) => e as Error & { code?: string })
  t.is(err?.code, 'ERR_PLACEMENT')
  t.regex(err?.message ?? '', /syd/)
  t.truthy(h3)
})

test.serial('two placers racing for the last room: one machine is created, the other placement fails, the host is never overbooked', async t => {
  const { h1, h3, h2 } = t.context
  // Only h3 (in ord) has room for a 16 GB machine: two hosts place one there at once.
  const big = { image: 'counter', driver: 'process' as const, guest: { memory_mb: 16_000 } }
  const before = (await (await machinesClient(h1.dataDir)).list('big')).length
  const results = await Promise.allSettled([
    (await machinesClient(h1.dataDir)).create('big', { config: big, skip_launch: true, region: 'ord' }),
    (await machinesClient(h3.dataDir)).create('big', { config: big, skip_launch: true, region: 'ord' })
  ])
  const ok = results.filter(r => r.status === 'fulfilled')
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
  t.is(before, 0)
  t.is(ok.length, 1, `exactly one placement succeeded: ${results.map(r => r.status === 'rejected' ? (r.reason as Error).message : 'ok').join(' | ')}`)
  t.is(failed.length, 1)
  t.true(['ERR_PLACEMENT', 'ERR_NO_CAPACITY'].includes((failed[0]?.reason as { code?: string }).code ?? ''))
  const onH3 = await (await machinesClient(h3.dataDir)).list('big')
  t.is(onH3.length, 1, 'h3 holds one big machine')
  t.truthy(h2)
})

test.serial('roost deploy --count --region places through the cluster and says where each machine went', async t => {
  const { h1, dir } = t.context
  const config = join(dir, 'placed.toml')
  await writeFile(config, 'app = "placed"\n[vm]\n  memory_mb = 64\n[restart]\n  policy = "no"\n')
  const r = await roost(['deploy', COUNTER_APP, '--config', config, '--data-dir', h1.dataDir, '--count', '3', '--region', 'ams,ord', '--json', '--wait-timeout', '60'], { timeoutMs: 180_000 })
  t.is(r.code, 0, r.stderr)
  const result = JSON.parse(r.stdout) as DeployResult
  t.is(result.machines.length, 3)
  t.deepEqual(result.machines.map(m => m.region).sort(), ['ams', 'ams', 'ord'])
  for (const m of result.machines) {
    t.is(m.action, 'created')
    t.is(m.region, REGIONS[m.hostName] ?? '?', `${m.id} is on ${m.hostName}, a host of its region`)
    t.is(m.state, 'started')
  }
  t.is(new Set(result.machines.filter(m => m.region === 'ams').map(m => m.hostName)).size, 2, 'the two ams machines are on two hosts')
})
