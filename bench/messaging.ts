import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type NoiseStream } from 'hyperswarm'
import { createAgentHost } from '../actors/agent/host.js'
import { connectControl } from '../src/api/control-client.js'
import { exited, freeUdpPort, startLocalCluster } from '../src/cli/local-cluster.js'
import { controlSocketPath } from '../src/api/control-api.js'
import { ROOST_VERSION } from '../src/cli/config.js'
import { createDhtBootstrap } from '../src/dht/bootstrap.js'
import { createLogger } from '../src/log/logger.js'
import { driverActor } from './helpers/driver-actor.js'
import { rawCounterClient, type RawClient } from './helpers/raw-counter.js'
import { dispatchFigures, progress, report, round, rssMbOf } from './helpers/report.js'

const BIN = fileURLToPath(new URL('../bin/roost.js', import.meta.url))
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 5_000)
const DISPATCH_MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

/** The same traffic over a bare hyperswarm stream, same framing and codec, to a bare server process. */
async function rawClient (bootstrap: { host: string, port: number }, serverKey: string): Promise<RawClient & { stop: () => Promise<void> }> {
  const dht = new HyperDHT({ bootstrap: [bootstrap], host: '127.0.0.1', firewalled: false })
  await dht.ready()
  const swarm = new Hyperswarm({ dht })
  const stream = await new Promise<NoiseStream>(resolve => {
    swarm.once('connection', (s: NoiseStream) => { resolve(s) })
    swarm.joinPeer(Buffer.from(serverKey, 'hex'))
  })
  stream.on('error', () => {})
  return { ...rawCounterClient(stream), stop: async () => { await swarm.destroy() } }
}

async function waitForLine (child: ChildProcess): Promise<string> {
  const rl = createInterface({ input: child.stdout! })
  for await (const line of rl) return line
  throw new Error('child printed nothing')
}

async function remoteDispatch (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-'))
  const children: ChildProcess[] = []
  const logger = createLogger({ level: 'warn' })
  const boot = createDhtBootstrap({ host: '127.0.0.1', port: await freeUdpPort() }, { logger })
  await boot.start()
  const bootstrap = boot.address()
  const secret = randomBytes(24).toString('base64url')
  const secretFile = join(dir, 'secret')
  await writeFile(secretFile, secret, { mode: 0o600 })
  try {
    progress('starting agent B (child process) and the raw echo server (child process)')
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(a => a.length > 0)
    const b = spawn(process.execPath, [...nodeArgs, BIN, 'agent', 'start', '--api', '127.0.0.1:0', '--name', 'bench-b', '--cluster', 'bench', '--secret-file', secretFile,
      '--bootstrap', `${bootstrap.host}:${bootstrap.port}`, '--data-dir', join(dir, 'b'), '--log-level', 'warn', '--wireguard', 'off'], { stdio: ['ignore', 'ignore', 'inherit'] })
    children.push(b)
    const topic = randomBytes(32).toString('hex')
    const raw = spawn(process.execPath, ['--import=tsx', fileURLToPath(new URL('./helpers/raw-echo-server.ts', import.meta.url)), `${bootstrap.host}:${bootstrap.port}`, topic], { stdio: ['ignore', 'pipe', 'inherit'] })
    children.push(raw)
    const serverKey = (JSON.parse(await waitForLine(raw)) as { publicKey: string }).publicKey
    const deadline = Date.now() + 30_000
    let bHost: string | undefined
    while (bHost === undefined) {
      if (Date.now() > deadline) throw new Error('agent B did not start')
      try {
        const c = await connectControl(controlSocketPath(join(dir, 'b')))
        try { bHost = String((await c.call(async api => await api.info())).hostId) } finally { c.close() }
      } catch { await new Promise(resolve => setTimeout(resolve, 100)) }
    }

    progress('starting agent A in this process with a driver actor')
    const a = await createAgentHost({ dataDir: join(dir, 'a'), name: 'bench-a', cluster: 'bench', secret, bootstrap: [bootstrap], host: '127.0.0.1', port: 0, version: ROOST_VERSION, api: { host: '127.0.0.1', port: 0 }, wireguard: 'off' }, { logger })
    await a.start()
    const driver = a.system.spawn(null, 'bench', driverActor)
    const rawc = await rawClient(bootstrap, serverKey)

    progress('warming up')
    await a.system.ask(driver, { type: 'bench.latency', host: bHost, n: 2_000 }, { timeoutMs: 120_000 })
    await rawc.latency(2_000)
    await a.system.ask(driver, { type: 'bench.dispatch', host: bHost, n: 20_000 }, { timeoutMs: 120_000 })
    await rawc.dispatch(20_000)

    const cpu = { rawSender: 0, rawReceiver: 0, sender: 0, receiver: 0 }
    const rates: number[] = []
    const rawRates: number[] = []
    let samples: number[] = []
    let rawSamples: number[] = []
    const cpuOf = async (pid: number): Promise<number> => {
      const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
      return (Number(f[11]) + Number(f[12])) * 10
    }
    const selfCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
    for (let r = 0; r < ROUNDS; r++) {
      progress(`round ${r + 1}/${ROUNDS}`)
      let c0 = [selfCpu(), await cpuOf(raw.pid!), await cpuOf(b.pid!)]
      let w0 = performance.now()
      const rd = await rawc.dispatch(DISPATCH_MESSAGES)
      let c1 = [selfCpu(), await cpuOf(raw.pid!), await cpuOf(b.pid!)]
      cpu.rawSender += c1[0]! - c0[0]!
      cpu.rawReceiver += c1[1]! - c0[1]!
      progress(`raw: wall ${(performance.now() - w0).toFixed(0)} ms, cpu sender ${(c1[0]! - c0[0]!).toFixed(0)} ms, raw server ${c1[1]! - c0[1]!} ms`)
      c0 = c1
      w0 = performance.now()
      if (rd.delivered !== DISPATCH_MESSAGES) throw new Error(`raw delivered ${rd.delivered} of ${DISPATCH_MESSAGES}`)
      rawRates.push(DISPATCH_MESSAGES / (rd.elapsedMs / 1000))
      const d = await a.system.ask(driver, { type: 'bench.dispatch', host: bHost, n: DISPATCH_MESSAGES }, { timeoutMs: 300_000 })
      // B's delivered count also includes the background gossip between the two agents.
      if (d.delivered < DISPATCH_MESSAGES) throw new Error(`roost delivered ${d.delivered} of ${DISPATCH_MESSAGES}`)
      c1 = [selfCpu(), await cpuOf(raw.pid!), await cpuOf(b.pid!)]
      cpu.sender += c1[0]! - c0[0]!
      cpu.receiver += c1[2]! - c0[2]!
      progress(`roost: wall ${(performance.now() - w0).toFixed(0)} ms, cpu sender ${(c1[0]! - c0[0]!).toFixed(0)} ms, agent B ${c1[2]! - c0[2]!} ms`)
      rates.push(DISPATCH_MESSAGES / (d.elapsedMs / 1000))
      rawSamples = rawSamples.concat(await rawc.latency(LATENCY_SAMPLES))
      samples = samples.concat((await a.system.ask(driver, { type: 'bench.latency', host: bHost, n: LATENCY_SAMPLES }, { timeoutMs: 300_000 })).samplesMs)
    }
    const bRss = await rssMbOf(b.pid!)
    report('messaging', {
      case: 'remote-dispatch',
      messages: DISPATCH_MESSAGES,
      rounds: ROUNDS,
      ...dispatchFigures({ rates, rawRates, samples, rawSamples }),
      senderCpuUsPerMsg: round(cpu.sender * 1000 / (ROUNDS * DISPATCH_MESSAGES), 2),
      receiverCpuUsPerMsg: round(cpu.receiver * 1000 / (ROUNDS * DISPATCH_MESSAGES), 2),
      rawSenderCpuUsPerMsg: round(cpu.rawSender * 1000 / (ROUNDS * DISPATCH_MESSAGES), 2),
      rawReceiverCpuUsPerMsg: round(cpu.rawReceiver * 1000 / (ROUNDS * DISPATCH_MESSAGES), 2),
      receiverRssMb: round(bRss, 1)
    })
    await rawc.stop()
    await a.stop()
  } finally {
    for (const c of children) c.kill('SIGTERM')
    await Promise.all(children.map(async c => { await exited(c) }))
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function idleRss (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-rss-'))
  progress('starting a bootstrap and 3 agent processes for the idle RSS reading')
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'warn' })
  try {
    await cluster.waitForMembership()
    await new Promise(resolve => setTimeout(resolve, 5_000))
    const rss: number[] = []
    for (const h of cluster.hosts) rss.push(await rssMbOf(h.process.pid!))
    const info = JSON.parse(await readFile(join(cluster.hosts[0]!.dataDir, 'agent.json'), 'utf8')) as { pid: number }
    report('messaging', {
      case: 'idle-3-hosts',
      hosts: 3,
      rssMb: round(Math.max(...rss), 1),
      rssMbPerHost: rss.map(r => round(r, 1)),
      samplePid: info.pid
    })
  } finally {
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

export async function run (): Promise<void> {
  await remoteDispatch()
  await idleRss()
}
