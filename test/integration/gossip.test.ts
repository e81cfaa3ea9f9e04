import test from 'ava'
import { readFile } from 'node:fs/promises'
import { exited, type LocalHost } from '../../src/cli/local-cluster.js'
import type { MemberView, RowView } from '../../src/api/control-api.js'
import { localCluster, roost } from '../helpers/cli.js'
import { startProbe } from '../helpers/probe.js'
import { retry } from '../helpers/retry.js'
import { serviceRow } from '../helpers/service-row.js'
import { createRowSigner } from '../../src/gossip/row-signature.js'
import type { UnsignedRow } from '../../src/gossip/rows.js'

const members = async (dataDir: string): Promise<MemberView[]> => {
  const r = await roost(['members', '--json', '--data-dir', dataDir])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as MemberView[]
}
const stateOf = async (dataDir: string, table: string): Promise<RowView[]> => {
  const r = await roost(['state', table, '--json', '--data-dir', dataDir])
  if (r.code !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout) as RowView[]
}
const hostIdOf = async (dataDir: string): Promise<string> => (JSON.parse(await readFile(`${dataDir}/agent.json`, 'utf8')) as { hostId: string }).hostId

test('a killed agent is marked dead by the others, its rows are marked, and it comes back with its replica and a higher incarnation', async t => {
  const cluster = await localCluster(t, 3)
  await cluster.waitForMembership()
  const [h1, h2, h3] = cluster.hosts as [typeof cluster.hosts[0] & object, typeof cluster.hosts[0] & object, typeof cluster.hosts[0] & object]
  const h3Id = await hostIdOf(h3.dataDir)
  for (const h of cluster.hosts) await retry(async () => (await stateOf(h.dataDir, 'hosts')).length === 3, { timeoutMs: 15_000, what: `hosts table replicated to ${h.name}` })

  const before = (await members(h1.dataDir)).find(m => m.hostId === h3Id)!
  h3.process.kill('SIGKILL')
  await exited(h3.process)
  for (const h of [h1, h2]) {
    await retry(async () => (await members(h.dataDir)).find(m => m.hostId === h3Id)?.state === 'dead', { timeoutMs: 20_000, what: `${h.name} marks h3 dead` })
  }
  const rows = await stateOf(h1.dataDir, 'hosts')
  const h3Row = rows.find(r => r.key === h3Id)
  t.truthy(h3Row, 'the dead host\'s row is kept')
  t.true(h3Row!.ownerDead, 'and marked owner-dead')

  await cluster.startHost('h3')
  const persisted = await stateOf(h3.dataDir, 'hosts')
  t.true(persisted.length >= 3, `the restarted agent serves its persisted replica at once (${persisted.length} rows)`)
  for (const h of [h1, h2]) {
    await retry(async () => (await members(h.dataDir)).find(m => m.hostId === h3Id)?.state === 'alive', { timeoutMs: 20_000, what: `${h.name} sees h3 alive again` })
  }
  const after = (await members(h1.dataDir)).find(m => m.hostId === h3Id)!
  t.true(after.incarnation > before.incarnation, 'it came back with a higher incarnation, refuting the old verdict')
  await retry(async () => (await stateOf(h1.dataDir, 'hosts')).every(r => !r.ownerDead), { timeoutMs: 10_000, what: 'rows alive again' })
  const log = await readFile(h1.logFile, 'utf8')
  t.regex(log, /member dead/)
  t.regex(log, /member alive again/)
})

test('a partition between two groups heals into one converged state', async t => {
  const cluster = await localCluster(t, 4, { env: { ROOST_ENABLE_FAULTS: '1' } })
  await cluster.waitForMembership()
  const hosts = cluster.hosts
  const ids = await Promise.all(hosts.map(async h => await hostIdOf(h.dataDir)))
  const groupA = [0, 1]
  const groupB = [2, 3]
  const block = async (i: number, others: number[]): Promise<void> => {
    const r = await roost(['send', 'local/agent/membership', JSON.stringify({ type: 'membership.fault', block: others.map(o => ids[o]) }), '--data-dir', hosts[i]!.dataDir])
    if (r.code !== 0) throw new Error(r.stderr)
  }
  for (const i of groupA) await block(i, groupB)
  for (const i of groupB) await block(i, groupA)
  await retry(async () => (await members(hosts[0]!.dataDir)).filter(m => groupB.map(b => ids[b]).includes(m.hostId)).every(m => m.state === 'dead'), { timeoutMs: 20_000, what: 'group A sees group B dead' })

  const write = async (i: number, key: string): Promise<void> => {
    const msg = { type: 'membership.write', table: 'services', key, data: serviceRow(key, 8080, ['http']) }
    const r = await roost(['send', 'local/agent/membership', JSON.stringify(msg), '--data-dir', hosts[i]!.dataDir])
    if (r.code !== 0) throw new Error(r.stderr)
  }
  await write(0, 'app-a')
  await write(2, 'app-b')
  await retry(async () => (await stateOf(hosts[1]!.dataDir, 'services')).some(r => r.key === 'app-a'), { what: 'A-side row within A' })
  t.false((await stateOf(hosts[3]!.dataDir, 'services')).some(r => r.key === 'app-a'), 'the partition holds')

  for (const i of [...groupA, ...groupB]) await block(i, [])
  for (const h of hosts) {
    await retry(async () => {
      const [m, s] = [await members(h.dataDir), await stateOf(h.dataDir, 'services')]
      return m.filter(x => x.state === 'alive').length === 4 && ['app-a', 'app-b'].every(k => s.some(r => r.key === k))
    }, { timeoutMs: 30_000, what: `${h.name} converged after the heal` })
  }
  const views = await Promise.all(hosts.map(async h => JSON.stringify((await stateOf(h.dataDir, 'services')).map(r => [r.key, r.version]).sort())))
  t.is(new Set(views).size, 1, 'every host holds the same services rows')
})

test('a host from another cluster cannot inject rows', async t => {
  const cluster = await localCluster(t, 2)
  await cluster.waitForMembership()
  const h1 = cluster.hosts[0]!
  const target = await hostIdOf(h1.dataDir)
  const intruder = await startProbe(t, cluster, { secret: 'another-clusters-secret', cluster: 'dev', name: 'intruder' })
  const forged = { table: 'services', key: 'evil', owner: intruder.transport.hostId, version: Date.now() * 4096, deleted: false, data: serviceRow('evil') }
  const failure = await new Promise<Error>(resolve => {
    intruder.send(target, { type: 'gossip.ae-rows', id: 1, from: '/agent/membership', to: '/agent/membership', body: { rows: [forged] } })
    intruder.transport.send(target, Buffer.from([0]), resolve)
  })
  t.truthy(failure)
  t.false((await stateOf(h1.dataDir, 'services')).some(r => r.key === 'evil'))
  t.false((await members(h1.dataDir)).some(m => m.hostId === intruder.transport.hostId))
})

test('an admitted host cannot write rows in another host\'s name, nor alter one', async t => {
  const cluster = await localCluster(t, 2)
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [LocalHost, LocalHost]
  const target = await hostIdOf(h1.dataDir)
  const victim = await hostIdOf(h2.dataDir)
  const probe = await startProbe(t, cluster, { name: 'liar' })
  const signer = createRowSigner(probe.seed)
  const version = Date.now() * 4096
  const own: UnsignedRow = { table: 'services', key: 'liar-own', owner: signer.hostId, version, deleted: false, data: serviceRow('liar-own') }
  const ownSigned = { ...own, sig: signer.sign(own) }
  const framedData: UnsignedRow = { ...own, key: 'framed' }
  const rows = [
    { ...framedData, owner: victim, sig: signer.sign(framedData) }, // the probe's signature, the victim named as owner
    { ...ownSigned, key: 'altered' }, // a signed row changed after signing
    ownSigned
  ]
  probe.send(target, { type: 'gossip.ae-rows', id: 1, from: '/agent/membership', to: '/agent/membership', body: { rows } })
  const held = await retry(async () => {
    const services = await stateOf(h1.dataDir, 'services')
    return services.some(r => r.key === 'liar-own') && services
  }, { timeoutMs: 10_000, what: 'the probe\'s own row is taken' })
  t.false(held.some(r => r.key === 'framed'))
  t.false(held.some(r => r.key === 'altered'))
  t.false((await stateOf(h2.dataDir, 'services')).some(r => r.key === 'framed' || r.key === 'altered'))
})
