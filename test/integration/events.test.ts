import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { exited, localImagesDir, startLocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import type { RoostEvent } from '../../src/events/event-kinds.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { serviceRow } from '../helpers/service-row.js'
import { freePort } from '../proxy/dp-harness.js'

// `roost events` against real agents (process driver, three hosts): a follower started on h1 as
// its own process prints a machine created there, a placement h1 made, a router error, and — after h2 is killed
// with -9 — h2 turning dead; the streams of every host read merged, and one host's after a seq.

/** `roost events <args>` running in the background; its output so far. */
function follow (args: string[]): { child: ChildProcess, out: () => string, err: () => string } {
  const child = spawn(process.execPath, [BIN, 'events', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (b: Buffer) => { out += b.toString('utf8') })
  child.stderr?.on('data', (b: Buffer) => { err += b.toString('utf8') })
  return { child, out: () => out, err: () => err }
}

test('roost events --follow shows a machine state change, a placement, a router error and a host killed with -9 turning dead; --all merges every host\'s', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-events-'))
  await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: 'counter' }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'debug', agentArgs: ['--driver', 'process'] })
  t.teardown(async () => { await tearDownCluster(cluster, dir) })
  const [h1, h2, h3] = cluster.hosts as [LocalHost, LocalHost, LocalHost]
  await cluster.waitForMembership()

  const f = follow(['--follow', '--data-dir', h1.dataDir])
  t.teardown(() => { if (f.child.exitCode === null) f.child.kill('SIGKILL') })
  const printed = async (re: RegExp, what: string, timeoutMs = 15_000): Promise<string> => {
    const m = await retry(() => re.exec(f.out()) ?? undefined, { timeoutMs, what: `${what} printed` })
      .catch((err: Error) => { throw new Error(`${err.message}; printed so far:\n${f.out()}\n${f.err()}`) })
    return m[0]
  }
  await printed(/ h1 {2}#\d+ {2}host\.joined +h2 joined the cluster/, 'h2 joining')

  const api = await machinesClient(h1.dataDir)
  const local = await api.create('events', { config: { image: 'counter', driver: 'process', restart: { policy: 'no' } }, skip_launch: true, host: 'h1' })
  await printed(new RegExp(`machine\\.state +machine ${local.id} \\(events\\) created`), 'the machine created on h1')
  const placed = await api.create('events', { config: { image: 'counter', driver: 'process', restart: { policy: 'no' } }, skip_launch: true })
  await printed(new RegExp(`placement +placed machine ${placed.id} of events on h[123]`), 'the placement h1 made')

  // Requests to an app with no machine: the router's errors arrive as one event per app and code per window.
  const port = await freePort()
  const row = serviceRow('nomachines', port, ['http'])
  ;(row.services as Array<Record<string, unknown>>)[0]!.autoStartMachines = false
  const deployed = await roost(['send', 'local/agent/router', JSON.stringify({ type: 'router.deploy', spec: row }), '--data-dir', h1.dataDir])
  t.is(deployed.code, 0, deployed.stderr)
  await retry(async () => (await fetch(`http://${h1.address}:${port}/`).catch(() => undefined))?.headers.get('roost-error') === 'PR01', { timeoutMs: 15_000, what: 'PR01 from h1\'s router' })
  for (let i = 0; i < 20; i++) await fetch(`http://${h1.address}:${port}/`)
  await printed(/router\.error +nomachines: PR01 no healthy machine for this app/, 'the router error')

  h2.process.kill('SIGKILL')
  await exited(h2.process)
  const dead = await printed(/^.* h1 {2}#\d+ {2}host\.dead +h2 is dead.*$/m, 'h2 dead', 30_000)
  t.log(dead)
  t.log(`roost events --follow printed:\n${f.out()}`)
  const lines = f.out().trim().split('\n')
  t.true(lines.every(l => /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}h1 {2}#\d+ {2}\S+ +\S/.test(l)), 'every line is an event of h1')
  const seqs = lines.map(l => Number(/#(\d+)/.exec(l)?.[1]))
  t.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order, none twice')
  t.is(new Set(seqs).size, seqs.length)

  // The same stream on the agent's API listener.
  const viaApi = await fetch(`${api.url}/v1/events?limit=1000`, { headers: { authorization: `Bearer ${api.token}` } })
  t.is(viaApi.status, 200)
  const fromApi = await viaApi.json() as RoostEvent[]
  t.deepEqual(fromApi.map(e => e.seq).slice(0, seqs.length), seqs, 'what the CLI printed (and maybe newer ones)')
  t.true(fromApi.some(e => e.kind === 'host.dead' && e.data?.name === 'h2'))

  f.child.kill('SIGTERM')
  await exited(f.child)
  t.is(f.child.exitCode, 0, 'interrupted, it ends cleanly')

  // Every live host's stream, merged by time; h3 recorded h2's death too.
  const all = await roost(['events', '--all', '--json', '--data-dir', h3.dataDir])
  t.is(all.code, 0, all.stderr)
  const merged = all.stdout.trim().split('\n').map(l => JSON.parse(l) as RoostEvent)
  t.deepEqual(new Set(merged.map(e => e.host)), new Set(['h1', 'h3']))
  t.true(merged.every((e, i) => i === 0 || (merged[i - 1] as RoostEvent).at <= e.at), 'ordered by time')
  t.true(merged.some(e => e.host === 'h3' && e.kind === 'host.dead' && e.data?.name === 'h2'))

  // One host's stream after a seq, read through another host.
  const h3Info = JSON.parse(await readFile(join(h3.dataDir, 'agent.json'), 'utf8')) as { hostId: string }
  const h3Events = merged.filter(e => e.host === 'h3')
  const after = (h3Events[1] as RoostEvent).seq
  const one = await roost(['events', '--host', h3Info.hostId.slice(0, 10), '--since', String(after), '--json', '--data-dir', h1.dataDir])
  t.is(one.code, 0, one.stderr)
  const got = one.stdout.trim().split('\n').map(l => JSON.parse(l) as RoostEvent)
  const expected = h3Events.filter(e => e.seq > after).map(e => e.seq)
  // h3 may have recorded more since (a failover of the machine placed on h2, say).
  t.deepEqual(got.map(e => e.seq).slice(0, expected.length), expected)
  t.true(got.every((e, i) => e.host === 'h3' && e.seq === after + 1 + i), 'h3\'s events after the seq, none missing')

  const bad = await roost(['events', '--since', 'x', '--data-dir', h1.dataDir])
  t.is(bad.code, 1)
  t.regex(bad.stderr, /ERR_CONFIG/)
})
