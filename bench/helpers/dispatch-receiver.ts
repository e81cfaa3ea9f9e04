import { controlCall, pollUntil } from '../../src/lab/lab-agents.js'
import { CPU_PROF_DIR, createCpuProfiler } from './cpu-profiler.js'
import { startBenchAgent, type ReceiverConfig, type ReceiverReady } from './dispatch-processes.js'
import { rawHyperswarmServer } from './raw-hyperswarm.js'
import { rawTcpServer } from './raw-tcp.js'
import { progress } from './report.js'
import { sinkActor, SINK_NAME } from './sink-actor.js'

// The receiving process of a dispatch bench: agent B with the sink actor, and the raw server.
// Prints one JSON line (ReceiverReady) once both listen; runs until SIGTERM.
const cfg = JSON.parse(process.argv[2] ?? '{}') as ReceiverConfig
const agent = await startBenchAgent(cfg)
agent.system.spawn(null, SINK_NAME, sinkActor({ stats: agent.transport.stats, profiler: CPU_PROF_DIR === undefined ? undefined : createCpuProfiler('receiver', CPU_PROF_DIR) }))
let raw: ReceiverReady['raw']
let rawStop: () => Promise<void>
if (cfg.raw.kind === 'hyperswarm') {
  const server = await rawHyperswarmServer(cfg.bootstrap, cfg.host)
  raw = { kind: 'hyperswarm', publicKey: server.publicKey }
  rawStop = server.stop
} else {
  const view = await pollUntil(async () => {
    const v = await controlCall(agent.socketPath, async api => await api.mesh())
    return v.address === null ? undefined : v
  }, 60_000, 'this host\'s tunnel end')
  const address = view.address as string
  const server = await rawTcpServer(address, cfg.raw.port)
  raw = { kind: 'tcp', address, port: cfg.raw.port }
  rawStop = server.stop
}
progress(`${cfg.name}: sink and raw ${raw.kind} server listening`)
process.stdout.write(JSON.stringify({ hostId: agent.hostId, pid: process.pid, raw } satisfies ReceiverReady) + '\n')
process.once('SIGTERM', () => {
  Promise.allSettled([rawStop(), agent.stop()]).finally(() => { process.exit(0) })
})
