import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../src/log/logger.js'
import { meshAddress, meshPrefix } from '../src/mesh/mesh-address.js'
import { wg, wireguardAvailable } from '../src/mesh/wg-command.js'
import { generateWgKeyPair } from '../src/mesh/wg-keys.js'
import { createWireguardInterface, type WgPeerSpec } from '../src/mesh/wireguard-interface.js'
import { killChild, waitForSocket } from '../src/mesh/wireguard-process.js'
import { median, progress, report, round } from './helpers/report.js'

// A roost WireguardInterface against a bare wireguard-go driven with `wg` by hand, in the same
// run. Peer endpoints are on 127.0.1.0/24 (the handshakes primed by setPeers go to loopback).
const PEERS = Number(process.env.BENCH_WG_PEERS ?? 500)
const SAMPLES = Number(process.env.BENCH_WG_SAMPLES ?? 5)
const CLUSTER = `bench-${process.pid}`

function peers (n: number): WgPeerSpec[] {
  return Array.from({ length: n }, (_, i) => {
    const { publicKey } = generateWgKeyPair()
    return { publicKey, endpoint: `127.0.1.${1 + (i % 250)}:${20000 + i}`, allowedIps: [`${meshAddress(CLUSTER, publicKey)}/128`] }
  })
}

function conf (list: WgPeerSpec[]): string {
  return list.map(p => `[Peer]\nPublicKey = ${p.publicKey}\nEndpoint = ${p.endpoint}\nAllowedIPs = ${p.allowedIps.join(',')}\n`).join('\n')
}

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}

export async function run (): Promise<void> {
  const avail = wireguardAvailable()
  if (!avail.ok) throw new Error(`bench wg-peers needs root, wireguard-go and wg: ${avail.reason}`)
  const tag = process.pid.toString(36)
  const ours = createWireguardInterface({
    ifname: `rbw${tag}a`, privateKey: generateWgKeyPair().privateKey, address: meshAddress(CLUSTER, 'self'), routePrefix: meshPrefix(CLUSTER)
  }, { logger: silentLogger() })
  const rawIf = `rbw${tag}b`
  const raw = spawn('wireguard-go', ['-f', rawIf], { stdio: 'ignore', env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' } })
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-wg-'))
  try {
    await ours.start()
    await waitForSocket(rawIf, raw)
    const set = peers(PEERS)
    await writeFile(join(dir, 'peers.conf'), conf(set))
    const dist = { ours: [] as number[], addconf: [] as number[], perPeer: [] as number[], change: [] as number[], rawChange: [] as number[], restart: [] as number[] }
    for (let s = 0; s < SAMPLES; s++) {
      progress(`sample ${s + 1}/${SAMPLES}`)
      await ours.setPeers([])
      dist.ours.push(await timed(async () => { await ours.setPeers(set) }))
      await wg(['set', rawIf, ...set.flatMap(p => ['peer', p.publicKey, 'remove'])])
      dist.addconf.push(await timed(async () => { await wg(['addconf', rawIf, join(dir, 'peers.conf')]) }))
      await wg(['set', rawIf, ...set.flatMap(p => ['peer', p.publicKey, 'remove'])])
      dist.perPeer.push(await timed(async () => {
        for (const p of set) await wg(['set', rawIf, 'peer', p.publicKey, 'endpoint', p.endpoint, 'allowed-ips', p.allowedIps.join(',')])
      }))
      const moved = set.map((p, i) => i === s ? { ...p, endpoint: `127.0.1.251:${30000 + s}` } : p)
      dist.change.push(await timed(async () => { await ours.setPeers(moved) }))
      dist.rawChange.push(await timed(async () => { await wg(['set', rawIf, 'peer', set[s]!.publicKey, 'endpoint', `127.0.1.251:${30000 + s}`]) }))
      const restarted = new Promise<void>(resolve => { ours.on('restart', () => { resolve() }) })
      const pid = ours.pid()!
      dist.restart.push(await timed(async () => { process.kill(pid, 'SIGKILL'); await restarted }))
    }
    const m = (xs: number[]): number => round(median(xs), 2)
    report('wg-peers', { case: 'set-all', peers: PEERS, samples: SAMPLES, medianMs: m(dist.ours), addconfMs: m(dist.addconf), perPeerSetMs: m(dist.perPeer), ratioVsAddconf: round(median(dist.ours) / median(dist.addconf), 2) })
    report('wg-peers', { case: 'change-one', peers: PEERS, samples: SAMPLES, medianMs: m(dist.change), rawSetMs: m(dist.rawChange), ratioVsRawSet: round(median(dist.change) / median(dist.rawChange), 2) })
    report('wg-peers', { case: 'restart', peers: PEERS, samples: SAMPLES, killToRestartMs: m(dist.restart), firstBackoffMs: 100 })
  } finally {
    await ours.stop()
    await killChild(raw)
    await rm(dir, { recursive: true, force: true })
  }
}
