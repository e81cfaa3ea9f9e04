import test from 'ava'
import { Registry } from 'prom-client'
import { createBucketHistogram, LATENCY_BUCKETS } from '../../src/metrics/bucket-histogram.js'
import { registerGossipMetrics } from '../../src/metrics/gossip-metrics.js'
import { registerLoopMetrics } from '../../src/metrics/loop-metrics.js'
import { registerMachineMetrics } from '../../src/metrics/machine-metrics.js'
import { createScrapeClock } from '../../src/metrics/scrape-cache.js'
import { registerWireguardMetrics } from '../../src/metrics/wireguard-metrics.js'
import { parsePromText, sumOf } from '../helpers/prom-text.js'

test('machines are counted by state and driver on scrape; launches by driver, mode and outcome', async t => {
  const registry = new Registry()
  let list = [{ state: 'started', driver: 'qemu' }, { state: 'started', driver: 'qemu' }, { state: 'stopped', driver: 'process' }]
  const launches = registerMachineMetrics(registry, { list: () => list })
  launches.launched('qemu', 'boot', 1.2, true)
  launches.launched('qemu', 'resume', 0.04, true)
  launches.launched('qemu', 'boot', 0.3, false)
  let s = parsePromText(await registry.metrics())
  t.is(sumOf(s, 'roost_machines', { state: 'started', driver: 'qemu' }), 2)
  t.is(sumOf(s, 'roost_machines', { state: 'stopped', driver: 'process' }), 1)
  t.is(sumOf(s, 'roost_machine_launch_seconds_count', { mode: 'boot', outcome: 'ok' }), 1)
  t.is(sumOf(s, 'roost_machine_launch_seconds_bucket', { mode: 'resume', le: '0.05' }), 1)
  t.is(sumOf(s, 'roost_machine_launch_seconds_count', { outcome: 'failed' }), 1)
  list = []
  s = parsePromText(await registry.metrics())
  t.is(sumOf(s, 'roost_machines'), 0, 'read live')
})

test('gossip figures become members by state, rows per table, lag in seconds and the probe histogram', async t => {
  const registry = new Registry()
  const scrapes = createScrapeClock()
  const rtt = createBucketHistogram(LATENCY_BUCKETS)
  rtt.observe(0.0007)
  let asked = 0
  registerGossipMetrics(registry, scrapes, async () => {
    asked++
    return { members: { alive: 2, suspect: 0, dead: 1, left: 0 }, tables: { hosts: { rows: 3, tombstones: 0 }, machines: { rows: 5, tombstones: 2 } }, antiEntropyLagMs: 1500, probeRtt: rtt.snapshot() }
  })
  scrapes.next()
  const s = parsePromText(await registry.metrics())
  t.is(asked, 1, 'the membership actor is asked once per scrape')
  t.is(sumOf(s, 'roost_gossip_members', { state: 'dead' }), 1)
  t.is(sumOf(s, 'roost_replica_rows', { table: 'machines' }), 5)
  t.is(sumOf(s, 'roost_replica_tombstones', { table: 'machines' }), 2)
  t.is(sumOf(s, 'roost_replica_anti_entropy_lag_seconds'), 1.5)
  t.is(sumOf(s, 'roost_gossip_probe_rtt_seconds_bucket', { le: '0.001' }), 1)
})

test('wireguard peers give handshake ages (none before a first handshake) and bytes per direction', async t => {
  const registry = new Registry()
  const scrapes = createScrapeClock()
  const a = 'a'.repeat(64)
  const b = 'b'.repeat(64)
  registerWireguardMetrics(registry, scrapes, async () => [
    { hostId: a, latestHandshake: 1_000, rxBytes: 10, txBytes: 20 },
    { hostId: b, latestHandshake: 0, rxBytes: 0, txBytes: 148 }
  ], () => 1_042)
  scrapes.next()
  const s = parsePromText(await registry.metrics())
  t.is(sumOf(s, 'roost_wireguard_handshake_age_seconds', { peer: 'aaaaaaaaaaaa' }), 42)
  t.false(s.some(x => x.name === 'roost_wireguard_handshake_age_seconds' && x.labels.peer === 'bbbbbbbbbbbb'))
  t.is(sumOf(s, 'roost_wireguard_bytes_total', { peer: 'bbbbbbbbbbbb', direction: 'tx' }), 148)
  t.is(sumOf(s, 'roost_wireguard_bytes_total', { peer: 'aaaaaaaaaaaa', direction: 'rx' }), 10)
})

test('event-loop lag comes from the loop monitor without resetting its window', async t => {
  const registry = new Registry()
  const resets: boolean[] = []
  registerLoopMetrics(registry, { read: (reset) => { resets.push(reset); return { maxMs: 30, p99Ms: 12, meanMs: 2, resolutionMs: 1, sinceMs: 1000 } }, stop: () => {} })
  const s = parsePromText(await registry.metrics())
  t.is(sumOf(s, 'roost_event_loop_lag_seconds', { quantile: '0.99' }), 0.012)
  t.is(sumOf(s, 'roost_event_loop_lag_seconds', { quantile: '1' }), 0.03)
  t.deepEqual(resets, [false])
})
