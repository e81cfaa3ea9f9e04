import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { startLocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import type { RoutesView } from '../../src/proxy/data-plane-view.js'
import { BIN, roost } from '../helpers/cli.js'
import { httpGet, tearDownCluster } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'

// Issue 14 item 4: an agent whose routes have nothing to serve runs no data-plane thread (no
// listener, no backhaul); the first app deployed starts it on every host, and the very first
// connection each router takes is served, also over the backhaul to the machine's host.

const FAST_HTTP = fileURLToPath(new URL('../fixtures/apps/fast-http', import.meta.url))
const PORT = 8201

async function routesOf (h: LocalHost, app?: string): Promise<RoutesView> {
  const r = await roost(['routes', ...(app === undefined ? [] : [app]), '--json', '--data-dir', h.dataDir])
  if (r.code !== 0) throw new Error(`roost routes on ${h.name}: ${r.stderr}`)
  return JSON.parse(r.stdout) as RoutesView
}

/** The host's router listens on the app's port and sees a machine it may send to. */
async function ready (h: LocalHost): Promise<boolean> {
  const view = await routesOf(h, 'fast')
  const listening = view.listeners.some(l => l.port === PORT && l.state === 'listening')
  return listening && view.backhaul.address !== null && (view.apps[0]?.machines.some(m => m.routable) ?? false)
}

test('the data plane starts with the first app: until then no listener nor backhaul; then each router serves its first connection', async t => {
  t.timeout(4 * 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'roost-lazy-dp-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 2, dir, logLevel: 'info', agentArgs: ['--driver', 'process'] })
  t.teardown(async () => { await tearDownCluster(cluster, undefined) })
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [LocalHost, LocalHost]

  for (const h of [h1, h2]) {
    const idle = await routesOf(h)
    t.is(idle.backhaul.address, null, `${h.name} listens for no backhaul while no app exists`)
    t.deepEqual(idle.listeners, [])
    t.deepEqual(idle.loop, { activeMs: 0, idleMs: 0 }, `${h.name} runs no data-plane thread`)
  }

  const deployed = await roost(['deploy', FAST_HTTP, '--data-dir', h1.dataDir, '--count', '1', '--host', 'h1', '--json'], { timeoutMs: 120_000 })
  t.is(deployed.code, 0, deployed.stderr)
  t.is((JSON.parse(deployed.stdout) as DeployResult).machines[0]?.state, 'started')
  await retry(async () => await ready(h1) && await ready(h2), { timeoutMs: 30_000, what: 'both routers listening with a routable machine' })

  // No request went through either router before these: each is its router's first connection.
  const viaH2 = await httpGet({ host: h2.address, port: PORT }, '/')
  t.is(viaH2?.status, 200, 'h2\'s first connection, forwarded over the backhaul to h1\'s machine')
  const viaH1 = await httpGet({ host: h1.address, port: PORT }, '/')
  t.is(viaH1?.status, 200, 'h1\'s first connection, to its own machine')
  t.is((await routesOf(h2, 'fast')).apps[0]?.counters['2xx'], 1, 'h2 answered one request')
  t.is((await routesOf(h1, 'fast')).apps[0]?.counters['2xx'], 2, 'h1 answered two: the one h2 forwarded and its own')
})
