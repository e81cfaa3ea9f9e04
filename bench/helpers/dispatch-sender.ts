import { CPU_PROF_DIR, createCpuProfiler } from './cpu-profiler.js'
import { driverActor } from './driver-actor.js'
import { startBenchAgent, type SenderConfig } from './dispatch-processes.js'
import { dispatchRounds } from './dispatch-rounds.js'
import type { DispatchPeer } from './raw-counter.js'
import { rawHyperswarmClient } from './raw-hyperswarm.js'
import { rawTcpClient } from './raw-tcp.js'
import { progress } from './report.js'
import { SINK_PATH, type SinkProtocol } from './sink-actor.js'
import { ref } from '../../src/runtime/ref.js'

// The sending process of a dispatch bench: agent A with the driver actor, and the raw client.
// Runs the rounds (dispatch-rounds.ts) and prints one JSON line with the figures and how many
// frames each end's transport sent on each path meanwhile; with WireGuard on, any frame on the
// hyperswarm path fails the run (the case is "through the tunnel").
const cfg = JSON.parse(process.argv[2] ?? '{}') as SenderConfig
const target = cfg.receiver.hostId
const agent = await startBenchAgent(cfg)
let rawStop = async (): Promise<void> => {}
try {
  if (cfg.wireguard === 'on') {
    const deadline = Date.now() + 60_000
    while (agent.transport.pathTo(target) !== 'wireguard') {
      if (Date.now() > deadline) throw new Error('no mesh connection to the receiver within 60 s')
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    progress('mesh connection to the receiver is up')
  }
  const driver = agent.system.spawn(null, 'bench', driverActor)
  const ask = agent.system.ask.bind(agent.system)
  const roost: DispatchPeer = {
    latency: async (n) => (await ask(driver, { type: 'bench.latency', host: target, n }, { timeoutMs: 300_000 })).samplesMs,
    dispatch: async (n) => await ask(driver, { type: 'bench.dispatch', host: target, n }, { timeoutMs: 300_000 })
  }
  if (CPU_PROF_DIR !== undefined) {
    // Profiles both ends' main threads during roost's dispatch rounds (warm-up excluded).
    const profiler = createCpuProfiler('sender', CPU_PROF_DIR)
    const sinkRef = ref<SinkProtocol>(target, SINK_PATH)
    const unprofiled = roost.dispatch
    let calls = 0
    roost.dispatch = async (n) => {
      if (calls++ === 0) return await unprofiled(n)
      await ask(sinkRef, { type: 'bench.profile', on: true }, { timeoutMs: 60_000 })
      await profiler.start()
      try {
        return await unprofiled(n)
      } finally {
        await profiler.stop()
        await ask(sinkRef, { type: 'bench.profile', on: false }, { timeoutMs: 60_000 })
      }
    }
  }
  const r = cfg.receiver.raw
  const raw = r.kind === 'hyperswarm' ? await rawHyperswarmClient(cfg.bootstrap, cfg.host, r.publicKey) : await rawTcpClient(r.address, r.port)
  rawStop = raw.stop
  const sink = ref<SinkProtocol>(target, SINK_PATH)
  const frames = async (): Promise<{ sender: Record<string, number>, receiver: Record<string, number> }> => {
    const receiver = (await ask(sink, { type: 'bench.count' }, { timeoutMs: 60_000 })).framesOut
    return { sender: agent.transport.stats().framesOut, receiver }
  }
  const before = await frames()
  const figures = await dispatchRounds({ messages: cfg.messages, rounds: cfg.rounds, latencySamples: cfg.latencySamples, warmup: cfg.warmup, receiverPid: cfg.receiver.pid }, { roost, raw })
  const after = await frames()
  const delta = (side: 'sender' | 'receiver', path: string): number => (after[side][path] ?? 0) - (before[side][path] ?? 0)
  const paths = {
    senderFramesOverWireguard: delta('sender', 'wireguard'),
    senderFramesOverHyperswarm: delta('sender', 'hyperswarm'),
    receiverFramesOverWireguard: delta('receiver', 'wireguard'),
    receiverFramesOverHyperswarm: delta('receiver', 'hyperswarm')
  }
  if (cfg.wireguard === 'on' && paths.senderFramesOverHyperswarm + paths.receiverFramesOverHyperswarm > 0) {
    throw new Error(`frames left the tunnel during the rounds: ${JSON.stringify(paths)}`)
  }
  process.stdout.write(JSON.stringify({ messages: cfg.messages, rounds: cfg.rounds, ...figures, ...paths }) + '\n')
} finally {
  await rawStop().catch(() => {})
  await agent.stop()
}
process.exit(0)
