import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MeshView } from '../src/api/control-api.js'
import { exited } from '../src/cli/local-cluster.js'
import { controlCall, pollUntil } from '../src/lab/lab-agents.js'
import { createLab, labAvailable, LAB_DHT_PORT, type Lab, type LabHost } from '../src/lab/lab.js'
import { createLogger } from '../src/log/logger.js'
import { wireguardAvailable } from '../src/mesh/wg-command.js'
import { benchNodeArgs, exitedCleanly, firstJsonLine, spawnDispatchProcess, type ReceiverReady } from './helpers/dispatch-processes.js'
import { timelineLines } from './helpers/mesh-timeline.js'
import { progress, report } from './helpers/report.js'

const BIN = fileURLToPath(new URL('../bin/roost.js', import.meta.url))
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 3_000)
const MESH_UP_HOSTS = (process.env.BENCH_MESH_HOSTS ?? '5,10').split(',').map(Number)
const RAW_PORT = 4290
const AGENT_ARGS = ['--driver', 'process', '--wireguard', 'on']

/** One control call on a lab host (long enough for the pings' own 10 s timeout). */
async function call<T> (h: LabHost, fn: Parameters<typeof controlCall<T>>[1]): Promise<T> {
  return await controlCall(h.socketPath, fn, 30_000)
}

async function withLab<T> (hosts: number, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-mesh-'))
  const lab = createLab({ hosts, binPath: BIN, dir, logLevel: 'warn', agentArgs: AGENT_ARGS }, { logger: createLogger({ level: 'warn' }) })
  try {
    await lab.start()
    return await fn(lab)
  } finally {
    await lab.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * remote-dispatch-wg: the messaging bench's two processes (bench/helpers/dispatch-processes.ts),
 * each in a lab host's namespace with WireGuard on; the raw peer is TCP between the two mesh
 * addresses, through the same tunnel.
 */
async function remoteDispatchWg (): Promise<void> {
  await withLab(0, async (lab) => {
    const children: ChildProcess[] = []
    try {
      const [rcv, snd] = [await lab.addHost('rcv', { start: false }), await lab.addHost('snd', { start: false })]
      const common = { cluster: 'lab', secretFile: lab.secretFile, bootstrap: { host: lab.bootstrap.host, port: lab.bootstrap.port ?? LAB_DHT_PORT }, wireguard: 'on' as const }
      progress('receiver (agent with a sink actor, raw TCP server on its mesh address) in the rcv namespace')
      const receiver = spawnDispatchProcess('receiver', { ...common, name: 'rcv', host: rcv.address, dataDir: rcv.dataDir, raw: { kind: 'tcp', port: RAW_PORT } }, { netns: rcv.netns })
      children.push(receiver)
      const ready = await firstJsonLine<ReceiverReady>(receiver, 'the receiver')
      progress(`sender (agent with a driver actor, raw TCP client to [${ready.raw.kind === 'tcp' ? ready.raw.address : ''}]:${RAW_PORT}) in the snd namespace`)
      const sender = spawnDispatchProcess('sender', {
        ...common, name: 'snd', host: snd.address, dataDir: snd.dataDir, receiver: ready, messages: MESSAGES, rounds: ROUNDS, latencySamples: LATENCY_SAMPLES, warmup: { latency: 1_000, dispatch: 10_000 }
      }, { netns: snd.netns })
      children.push(sender)
      const result = await firstJsonLine<Record<string, unknown>>(sender, 'the sender')
      await exitedCleanly(sender, 'the sender')
      report('mesh', { case: 'remote-dispatch-wg', ...result, nodeArgs: benchNodeArgs().join(' '), target: 0.8 })
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
      await Promise.all(children.map(async c => { await exited(c) }))
    }
  })
}

async function meshUp (hosts: number): Promise<void> {
  await withLab(hosts, async (lab) => {
    const t0 = performance.now()
    const t0Epoch = Date.now()
    const running = lab.hosts
    progress(`${hosts} agents started; waiting for every pair to have a handshake and a delivered message`)
    let views: MeshView[] = []
    await pollUntil(async () => {
      views = await Promise.all(running.map(async h => await call(h, async api => await api.mesh())))
      return views.every((v: MeshView) => v.peers.length === hosts - 1 && v.peers.every(p => p.latestHandshake > 0 && p.path === 'wireguard')) ? true : undefined
    }, 60_000, 'every tunnel and mesh connection').catch((err: unknown) => {
      for (const [i, v] of views.entries()) {
        const short = v.peers.filter(p => p.latestHandshake === 0 || p.path !== 'wireguard').map(p => `${p.name} (${p.latestHandshake === 0 ? 'no handshake' : 'handshake'}, path ${p.path})`)
        progress(`${running[i]?.name ?? '?'}: mode ${v.mode}, ${v.peers.length} of ${hosts - 1} peers${short.length === 0 ? '' : `; not yet: ${short.join(', ')}`}`)
      }
      throw err
    })
    const handshakesMs = performance.now() - t0
    // The pings go over the tunnel if no host's transport sends a frame on the hyperswarm path
    // meanwhile (the wireguard count alone would be satisfied by gossip).
    const hyperswarmOut = async (): Promise<number[]> => await Promise.all(running.map(async h => (await call(h, async api => await api.mesh())).stats.framesOut.hyperswarm ?? 0))
    // Addressed by host id: a tunnel can be up before gossip has spread the other host's name.
    const ids = await Promise.all(running.map(async h => String((await call(h, async api => await api.info())).hostId)))
    const before = await hyperswarmOut()
    await Promise.all(running.map(async h => {
      for (const [j, other] of running.entries()) {
        if (other === h) continue
        await call(h, async api => await api.send(`${ids[j] as string}/agent`, { type: 'agent.ping', seq: 1 }, { timeoutMs: 10_000 }))
      }
    }))
    const meshUpMs = performance.now() - t0
    const after = await hyperswarmOut()
    const offTunnel = after.reduce((sum, n, i) => sum + n - (before[i] ?? 0), 0)
    const timelines = await Promise.all(running.map(async h => ({ name: h.name, milestones: await call(h, async api => await api.timeline()) })))
    for (const line of timelineLines(timelines, t0Epoch)) progress(line)
    progress(`mesh-up ${hosts} hosts: handshakes and mesh connections at ${Math.round(handshakesMs)} ms, pings done at ${Math.round(meshUpMs)} ms`)
    if (offTunnel > 0) throw new Error(`mesh-up with ${hosts} hosts: ${offTunnel} frames went over hyperswarm while the pings ran, so not every ping is known to have crossed a tunnel`)
    report('mesh', { case: 'mesh-up', hosts, meshUpMs: Math.round(meshUpMs), handshakesMs: Math.round(handshakesMs), pings: hosts * (hosts - 1), pingsOverWireguard: true, targetMs: 3000 })
  })
}

export async function run (): Promise<void> {
  const lab = labAvailable()
  const wg = wireguardAvailable()
  if (!lab.ok || !wg.ok) throw new Error(`bench mesh needs root, network namespaces and wireguard-go: ${lab.ok ? '' : lab.reason} ${wg.ok ? '' : wg.reason}`)
  const cases = (process.env.BENCH_CASES ?? 'remote-dispatch-wg,mesh-up').split(',')
  if (cases.includes('remote-dispatch-wg')) await remoteDispatchWg()
  if (cases.includes('mesh-up')) for (const n of MESH_UP_HOSTS) await meshUp(n)
}
