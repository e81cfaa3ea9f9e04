import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { MeshView } from '../src/api/control-api.js'
import { exited } from '../src/cli/local-cluster.js'
import { controlCall, pollUntil } from '../src/lab/lab-agents.js'
import { createLab, labAvailable, LAB_DHT_PORT, type Lab, type LabHost } from '../src/lab/lab.js'
import { createLogger } from '../src/log/logger.js'
import { wireguardAvailable } from '../src/mesh/wg-command.js'
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

async function firstLine (child: ChildProcess, what: string): Promise<string> {
  const rl = createInterface({ input: child.stdout! })
  for await (const line of rl) return line
  throw new Error(`${what} printed nothing (exit ${String(child.exitCode)})`)
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

async function remoteDispatchWg (): Promise<void> {
  await withLab(1, async (lab) => {
    const target = lab.host('h1')
    const view = await pollUntil(async () => { const v = await call(target, async api => await api.mesh()); return v.address === null ? undefined : v }, 30_000, 'h1 tunnel end')
    const targetId = String((await call(target, async api => await api.info())).hostId)
    const children: ChildProcess[] = []
    try {
      progress(`raw TCP server on h1's mesh address [${view.address as string}]:${RAW_PORT}`)
      const raw = spawn('ip', ['netns', 'exec', target.netns, process.execPath, '--import=tsx', fileURLToPath(new URL('./helpers/raw-tcp-server.ts', import.meta.url)), view.address as string, String(RAW_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(raw)
      await firstLine(raw, 'raw TCP server')
      const drv = await lab.addHost('drv', { start: false })
      progress('driver agent (in the drv namespace, WireGuard on) with the raw client')
      const cfg = {
        cluster: 'lab', secretFile: lab.secretFile, bootstrap: { host: lab.bootstrap.host, port: lab.bootstrap.port ?? LAB_DHT_PORT }, host: drv.address, dataDir: drv.dataDir,
        target: targetId, raw: { address: view.address, port: RAW_PORT }, messages: MESSAGES, rounds: ROUNDS, latencySamples: LATENCY_SAMPLES
      }
      const driver = spawn('ip', ['netns', 'exec', drv.netns, process.execPath, '--import=tsx', fileURLToPath(new URL('./helpers/mesh-driver.ts', import.meta.url)), JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(driver)
      const result = JSON.parse(await firstLine(driver, 'mesh driver')) as Record<string, unknown>
      report('mesh', { case: 'remote-dispatch-wg', ...result, target: 0.8 })
      await exited(driver, 30_000)
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
      await Promise.all(children.map(async c => { await exited(c) }))
    }
  })
}

async function meshUp (hosts: number): Promise<void> {
  await withLab(hosts, async (lab) => {
    const t0 = performance.now()
    const running = lab.hosts
    progress(`${hosts} agents started; waiting for every pair to have a handshake and a delivered message`)
    await pollUntil(async () => {
      const views = await Promise.all(running.map(async h => await call(h, async api => await api.mesh())))
      return views.every((v: MeshView) => v.peers.length === hosts - 1 && v.peers.every(p => p.latestHandshake > 0 && p.path === 'wireguard')) ? true : undefined
    }, 60_000, 'every tunnel and mesh connection')
    const handshakesMs = performance.now() - t0
    const before = await Promise.all(running.map(async h => (await call(h, async api => await api.mesh())).stats.framesOut.wireguard ?? 0))
    await Promise.all(running.map(async h => {
      for (const other of running) {
        if (other === h) continue
        await call(h, async api => await api.send(`${other.name}/agent`, { type: 'agent.ping', seq: 1 }, { timeoutMs: 10_000 }))
      }
    }))
    const meshUpMs = performance.now() - t0
    const after = await Promise.all(running.map(async h => (await call(h, async api => await api.mesh())).stats.framesOut.wireguard ?? 0))
    const viaWg = after.every((n, i) => n - (before[i] ?? 0) >= hosts - 1)
    report('mesh', { case: 'mesh-up', hosts, meshUpMs: Math.round(meshUpMs), handshakesMs: Math.round(handshakesMs), pings: hosts * (hosts - 1), pingsOverWireguard: viaWg, targetMs: 3000 })
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
