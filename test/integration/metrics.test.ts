import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { startLocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { BIN, roost } from '../helpers/cli.js'
import { httpGet, tearDownCluster } from '../helpers/machines.js'
import { scrape, scrapeSamples, sumOf } from '../helpers/prom-text.js'
import { retry } from '../helpers/retry.js'

// Issue 16 item 1: every agent serves Prometheus metrics on its API listener. Three agents on
// loopback (process driver), an app on h1; requests through h2's router go to it over the
// backhaul. The scrapes must show them, the messages between hosts, and h3's death.

const FAST_HTTP = fileURLToPath(new URL('../fixtures/apps/fast-http', import.meta.url))
const PORT = 8201
const REQUESTS = 40

test('/metrics counts router requests by app, messages between hosts and a host going dead; it wants the token unless --metrics-public', async t => {
  t.timeout(4 * 60_000)
  const dir = await mkdtemp(join(tmpdir(), 'roost-metrics-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const cluster = await startLocalCluster({
    binPath: BIN,
    hosts: 3,
    dir,
    logLevel: 'info',
    agentArgs: ['--driver', 'process'],
    perHost: (name) => ({ args: name === 'h1' ? ['--metrics-public'] : [] })
  })
  t.teardown(async () => { await tearDownCluster(cluster, undefined) })
  await cluster.waitForMembership()
  const [h1, h2, h3] = cluster.hosts as [LocalHost, LocalHost, LocalHost]

  const closed = await scrape(h2.dataDir, { token: false })
  t.is(closed.status, 401, 'h2 serves /metrics only with the token')
  t.is((JSON.parse(closed.text) as { code: string }).code, 'ERR_UNAUTHORIZED')
  const withToken = await scrape(h2.dataDir)
  t.is(withToken.status, 200)
  t.regex(withToken.contentType ?? '', /^text\/plain; version=0\.0\.4/)
  const open = await scrape(h1.dataDir, { token: false })
  t.is(open.status, 200, 'h1 runs with --metrics-public')
  t.regex(open.text, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m, 'Node\'s default metrics are there')
  t.regex(open.text, /^roost_actor_mailbox_messages\{family="\/agent\/membership"\} \d+$/m)

  const deployed = await roost(['deploy', FAST_HTTP, '--data-dir', h1.dataDir, '--count', '1', '--host', 'h1', '--json'], { timeoutMs: 120_000 })
  t.is(deployed.code, 0, deployed.stderr)
  t.is((JSON.parse(deployed.stdout) as DeployResult).machines[0]?.state, 'started')
  await retry(async () => (await httpGet({ host: h2.address, port: PORT }, '/'))?.status === 200, { timeoutMs: 30_000, what: 'h2\'s router serving the app' })

  const before = await scrapeSamples(h2.dataDir)
  const sentBefore = sumOf(before, 'roost_messages_sent_total')
  const receivedBefore = sumOf(before, 'roost_messages_received_total')
  const okBefore = sumOf(before, 'roost_router_requests_total', { app: 'fast', handler: 'http', result: '2xx' })
  for (let i = 0; i < REQUESTS; i++) t.is((await httpGet({ host: h2.address, port: PORT }, '/'))?.status, 200)
  const after = await scrapeSamples(h2.dataDir)
  t.is(sumOf(after, 'roost_router_requests_total', { app: 'fast', handler: 'http', result: '2xx' }) - okBefore, REQUESTS, 'h2 counts every request it answered for the app')
  t.is(sumOf(after, 'roost_router_request_duration_seconds_count', { app: 'fast', handler: 'http', result: '2xx' }) - okBefore, REQUESTS, 'each with its latency')
  t.true(sumOf(after, 'roost_router_connections_total', { kind: 'http' }) > 0)
  t.true(sumOf(after, 'roost_backhaul_bytes_total', { side: 'edge', direction: 'out' }) > 0, 'the requests went to h1 over the backhaul')
  // The requests may all be answered between two of h2's gossip rounds: its actor messages are
  // read until they have moved (they must, within a few rounds).
  const moved = await retry(async () => {
    const now = await scrapeSamples(h2.dataDir)
    return sumOf(now, 'roost_messages_sent_total') > sentBefore && sumOf(now, 'roost_messages_received_total') > receivedBefore ? now : undefined
  }, { timeoutMs: 10_000, intervalMs: 100, what: 'h2\'s message counters moving' })
  t.true(sumOf(moved, 'roost_messages_sent_total', { type: 'gossip.ping' }) > 0, 'by type')
  t.true(sumOf(moved, 'roost_message_bytes_total', { direction: 'out' }) > sumOf(before, 'roost_message_bytes_total', { direction: 'out' }))
  t.true(sumOf(after, 'roost_gossip_probe_rtt_seconds_count') > 0, 'probe round trips are observed')
  t.true(sumOf(after, 'roost_replica_rows', { table: 'hosts' }) === 3, 'the replica holds a row per host')
  t.true(sumOf(after, 'roost_actor_handling_seconds_count', { family: '/agent/membership' }) > 0)

  const hosted = await scrapeSamples(h1.dataDir)
  t.true(sumOf(hosted, 'roost_router_requests_total', { app: 'fast', handler: 'backhaul', result: '2xx' }) >= REQUESTS, 'h1 answered them for h2')
  t.is(sumOf(hosted, 'roost_machines', { state: 'started', driver: 'process' }), 1)
  t.is(sumOf(hosted, 'roost_machine_launch_seconds_count', { driver: 'process', mode: 'boot', outcome: 'ok' }), 1)
  t.is(sumOf(hosted, 'roost_gossip_members', { state: 'alive' }), 3)
  t.is(sumOf(hosted, 'roost_gossip_members', { state: 'dead' }), 0)

  h3.process.kill('SIGKILL')
  await retry(async () => sumOf(await scrapeSamples(h1.dataDir), 'roost_gossip_members', { state: 'dead' }) === 1, { timeoutMs: 60_000, what: 'h1\'s metrics showing h3 dead' })
  const end = await scrapeSamples(h1.dataDir)
  t.is(sumOf(end, 'roost_gossip_members', { state: 'alive' }), 2)
})
