import anyTest, { type TestFn } from 'ava'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RowView } from '../../src/api/control-api.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import type { RoostEvent } from '../../src/events/event-kinds.js'
import { controlCall } from '../../src/lab/lab-agents.js'
import { silentLogger } from '../../src/log/logger.js'
import { machineIdOf } from '../../src/placement/machine-rows.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { isSameProcess } from '../../src/vmm/proc-info.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, httpGet, killRecordedVms, machinesClient, recordedVmPids, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'

// Failover on real agents (process driver, three hosts of one region): a host "dies" (its agent
// and its machines killed with -9); a survivor re-creates its replaceable machine with the same
// id and the next generation; the dead host comes back and destroys its stale copy, so exactly
// one copy runs in the end. A machine that says failover = none is left alone.

interface Ctx { cluster: LocalCluster, dir: string, ids: Map<string, string> }
const test = anyTest as TestFn<Ctx>

test.before(async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-failover-'))
  await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: 'counter' }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'debug', agentArgs: ['--driver', 'process'] })
  t.context = { cluster, dir, ids: new Map() }
  await cluster.waitForMembership()
  for (const h of cluster.hosts) t.context.ids.set(h.name, (JSON.parse(await readFile(join(h.dataDir, 'agent.json'), 'utf8')) as { hostId: string }).hostId)
})

test.after.always(async t => { await tearDownCluster(t.context.cluster, t.context.dir) })

const host = (t: { context: Ctx }, name: string): LocalHost => t.context.cluster.hosts.find(h => h.name === name) as LocalHost
const live = (dataDir: string): number => recordedVmPids(dataDir).filter(p => isSameProcess(p.pid, p.pidStartTicks)).length

async function members (h: LocalHost): Promise<Array<{ hostId: string, state: string }>> {
  const r = await roost(['members', '--json', '--data-dir', h.dataDir])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as never
}

test.serial('a dead host\'s replaceable machine comes back once on a survivor, same id, next generation; the returning host destroys its stale copy', async t => {
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map(n => host(t, n)) as [LocalHost, LocalHost, LocalHost]
  const api = await machinesClient(h1.dataDir)
  const config = { image: 'counter', driver: 'process' as const, restart: { policy: 'always' as const } }
  const web = await api.create('web', { config, host: 'h2' })
  const keep = await api.create('keep', { config: { ...config, failover: 'none' as const }, host: 'h2' })
  t.is(web.generation, 1)
  await retry(async () => (await api.get('web', web.id)).state === 'started' && (await api.get('keep', keep.id)).state === 'started', { timeoutMs: 30_000, what: 'both started on h2' })
  t.is(live(h2.dataDir), 2)
  // What survivors know of a dead host's machines is what gossip brought them before it died.
  await retry(async () => {
    for (const h of [h1, h3]) {
      const rows = await controlCall(h.socketPath, async c => await c.state('machines'), 10_000) as RowView[]
      for (const id of [web.id, keep.id]) if (!rows.some(r => machineIdOf(r) === id && r.data?.state === 'started')) return false
    }
    return true
  }, { timeoutMs: 30_000, what: 'both machines started in h1\'s and h3\'s replicas' })

  const killedAt = Date.now()
  h2.process.kill('SIGKILL')
  t.true(killRecordedVms(h2.dataDir) >= 2, 'the host\'s machines die with it')
  await retry(async () => (await members(h1)).find(m => m.hostId === t.context.ids.get('h2'))?.state === 'dead', { timeoutMs: 10_000, what: 'h2 declared dead on h1' })

  const replaced = await retry(async () => {
    const v = await api.get('web', web.id).catch(() => undefined)
    return v !== undefined && v.generation === 2 && v.state === 'started' && v
  }, { timeoutMs: 30_000, what: 'web re-created on a survivor' }).catch(async (err: unknown) => {
    for (const h of [h1, h3]) t.log(`${h.name}: ${(await readFile(h.logFile, 'utf8')).split('\n').filter(l => /failover|replac|fence|placement|machines\.replace|dead/.test(l)).slice(-15).join('\n')}`)
    throw err
  })
  t.log(`replaced ${Date.now() - killedAt} ms after the kill`)
  t.true(replaced.host === t.context.ids.get('h1') || replaced.host === t.context.ids.get('h3'))
  t.is(replaced.id, web.id, 'the id stays')
  t.true(replaced.events.some(e => e.type === 'failover'))
  await retry(async () => (await httpGet(replaced.endpoint, '/ping.txt'))?.status === 200, { timeoutMs: 30_000, what: 'the new copy answering' })
  t.is(live(h1.dataDir) + live(h3.dataDir), 1, 'exactly one copy on the survivors')
  const listed = (await api.list('web')).filter(m => m.id === web.id)
  t.is(listed.length, 1, 'the API lists the machine once')
  t.is(listed[0]?.generation, 2)
  const gone = await api.list('keep')
  t.is(gone.find(m => m.id === keep.id)?.host, t.context.ids.get('h2'), 'failover = none stays where it was')
  t.is(live(h1.dataDir) + live(h3.dataDir), 1, 'nothing re-created for failover = none')

  await t.context.cluster.startHost('h2')
  await retry(async () => {
    const onH2 = await (await machinesClient(h2.dataDir)).list('web')
    return onH2.filter(m => m.id === web.id).every(m => m.host !== t.context.ids.get('h2'))
  }, { timeoutMs: 30_000, what: 'web listed only where generation 2 runs' })
  await retry(async () => live(h2.dataDir) === 1, { timeoutMs: 30_000, what: 'h2 running only keep' })
  t.is(live(h1.dataDir) + live(h2.dataDir) + live(h3.dataDir), 2, 'web once, keep once')
  const final = await api.get('web', web.id)
  t.is(final.generation, 2)
  t.is(final.host, replaced.host)

  // The event streams say what happened: the survivor's replacement, h2's destroy of its stale copy.
  const events = await retry(async () => {
    const r = await roost(['events', '--all', '--json', '--data-dir', h1.dataDir])
    if (r.code !== 0) throw new Error(r.stderr)
    const all = r.stdout.trim().split('\n').map(l => JSON.parse(l) as RoostEvent)
    return all.some(e => e.host === 'h2' && e.data?.action === 'destroy-stale' && e.data?.machine === web.id) && all
  }, { timeoutMs: 15_000, what: 'h2\'s destroy-stale event' })
  t.true(events.some(e => e.kind === 'failover' && e.data?.action === 'replace' && e.data?.machine === web.id && e.data?.from === t.context.ids.get('h2')))
  t.true(events.some(e => e.kind === 'host.dead' && e.data?.name === 'h2'))
})
