import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startLocalCluster } from '../src/cli/local-cluster.js'
import { agentProcessEnv } from '../src/threads/malloc-env.js'
import { benchNodeArgs, exitedCleanly, firstJsonLine, type ReceiverReady } from './helpers/dispatch-processes.js'
import { withLoopbackCluster } from './helpers/loopback-cluster.js'
import { progress, report, round, rssMbOf } from './helpers/report.js'

const BIN = fileURLToPath(new URL('../bin/roost.js', import.meta.url))
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 5_000)
const DISPATCH_MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

/**
 * remote-dispatch: a driver actor on agent A → a sink actor on agent B, against the same traffic
 * over a bare hyperswarm stream (same framing and codec). Two processes, both made alike
 * (bench/helpers/dispatch-processes.ts); this one only starts them and prints the result.
 */
async function remoteDispatch (): Promise<void> {
  await withLoopbackCluster('bench', async ({ common, dataDir, spawn }) => {
    progress('starting the receiver (agent B with a sink actor, the raw hyperswarm server)')
    const receiver = spawn('receiver', { ...common, name: 'bench-b', dataDir: dataDir('b'), raw: { kind: 'hyperswarm' } })
    const ready = await firstJsonLine<ReceiverReady>(receiver, 'the receiver')
    progress('starting the sender (agent A with a driver actor, the raw client)')
    const sender = spawn('sender', {
      ...common, name: 'bench-a', dataDir: dataDir('a'), receiver: ready, messages: DISPATCH_MESSAGES, rounds: ROUNDS, latencySamples: LATENCY_SAMPLES, warmup: { latency: 2_000, dispatch: 20_000 }
    })
    const result = await firstJsonLine<Record<string, unknown>>(sender, 'the sender')
    await exitedCleanly(sender, 'the sender')
    report('messaging', { case: 'remote-dispatch', ...result, nodeArgs: benchNodeArgs().join(' ') })
  })
}

/** Seconds after the membership formed at which `idle-3-hosts` reads RSS again, once V8 has given back what start-up grew. */
const SETTLED_AFTER_S = Number(process.env.BENCH_SETTLED_AFTER_S ?? 20)

/**
 * The floor an agent stands on: a bare `node` with one idle worker thread (the agent has one at
 * idle, the transport's), started with the agent's environment and read when the agents are.
 */
function bareNode (): ChildProcess {
  const script = "new (require('node:worker_threads').Worker)('setInterval(() => {}, 1e6)', { eval: true }); setInterval(() => {}, 1e6)"
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore', env: agentProcessEnv(process.env) })
}

async function idleRss (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-rss-'))
  progress('starting a bootstrap and 3 agent processes for the idle RSS reading')
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'warn' })
  let bare: ChildProcess | undefined
  try {
    await cluster.waitForMembership()
    const formed = Date.now()
    bare = bareNode()
    await new Promise(resolve => setTimeout(resolve, 5_000))
    const read = async (): Promise<number[]> => await Promise.all(cluster.hosts.map(async h => await rssMbOf(h.process.pid!)))
    const rss = await read()
    const bareMb = await rssMbOf(bare.pid!)
    progress(`read ${rss.map(r => round(r, 1)).join(', ')} MB; again ${SETTLED_AFTER_S} s after the membership formed`)
    await new Promise(resolve => setTimeout(resolve, Math.max(0, formed + SETTLED_AFTER_S * 1000 - Date.now())))
    const settled = await read()
    const info = JSON.parse(await readFile(join(cluster.hosts[0]!.dataDir, 'agent.json'), 'utf8')) as { pid: number }
    report('messaging', {
      case: 'idle-3-hosts',
      hosts: 3,
      rssMb: round(Math.max(...rss), 1),
      rssMbPerHost: rss.map(r => round(r, 1)),
      bareNodeRssMb: round(bareMb, 1),
      rssMbSettled: round(Math.max(...settled), 1),
      rssMbSettledPerHost: settled.map(r => round(r, 1)),
      settledAfterS: SETTLED_AFTER_S,
      samplePid: info.pid
    })
  } finally {
    bare?.kill('SIGKILL')
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** BENCH_CASES=idle-3-hosts (comma-separated) runs only the named cases. */
export async function run (): Promise<void> {
  const cases = (process.env.BENCH_CASES ?? 'remote-dispatch,idle-3-hosts').split(',').map(c => c.trim())
  if (cases.includes('remote-dispatch')) await remoteDispatch()
  if (cases.includes('idle-3-hosts')) await idleRss()
}
