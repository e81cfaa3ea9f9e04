import { readFile } from 'node:fs/promises'
import { createAgentHost } from '../../actors/agent/host.js'
import { ROOST_VERSION } from '../../src/cli/config.js'
import { createLogger } from '../../src/log/logger.js'
import { driverActor } from './driver-actor.js'
import { rawTcpClient } from './raw-tcp-client.js'
import { dispatchFigures, progress } from './report.js'

// The sending side of `bench mesh` remote-dispatch-wg, run inside a lab host's namespace: an agent
// (in this process, WireGuard on) with a driver actor, and a raw TCP client to a server on the
// target's mesh address. Prints one JSON line with the measurements.
interface DriverConfig {
  cluster: string
  secretFile: string
  bootstrap: { host: string, port: number }
  host: string
  dataDir: string
  target: string
  raw: { address: string, port: number }
  messages: number
  rounds: number
  latencySamples: number
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as DriverConfig
const logger = createLogger({ level: 'warn', base: { node: 'bench-driver' } })
const secret = (await readFile(cfg.secretFile, 'utf8')).trim()
const agent = await createAgentHost({
  dataDir: cfg.dataDir, name: 'drv', cluster: cfg.cluster, secret, bootstrap: [cfg.bootstrap], host: cfg.host, port: 0, version: ROOST_VERSION, api: { host: '127.0.0.1', port: 0 }, wireguard: 'on', driver: 'process'
}, { logger })
await agent.start()
try {
  const deadline = Date.now() + 60_000
  while (agent.transport.pathTo(cfg.target) !== 'wireguard') {
    if (Date.now() > deadline) throw new Error('no mesh connection to the target within 60 s')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  progress('mesh connection to the target is up')
  const driver = agent.system.spawn(null, 'bench', driverActor)
  const raw = await rawTcpClient(cfg.raw.address, cfg.raw.port)
  const ask = agent.system.ask.bind(agent.system)
  progress('warming up')
  await ask(driver, { type: 'bench.latency', host: cfg.target, n: 1_000 }, { timeoutMs: 120_000 })
  await raw.latency(1_000)
  await ask(driver, { type: 'bench.dispatch', host: cfg.target, n: 10_000 }, { timeoutMs: 120_000 })
  await raw.dispatch(10_000)
  const rates: number[] = []
  const rawRates: number[] = []
  let samples: number[] = []
  let rawSamples: number[] = []
  const wgBefore = agent.transport.stats().framesOut.wireguard
  for (let r = 0; r < cfg.rounds; r++) {
    progress(`round ${r + 1}/${cfg.rounds}`)
    const rd = await raw.dispatch(cfg.messages)
    if (rd.delivered !== cfg.messages) throw new Error(`raw delivered ${rd.delivered} of ${cfg.messages}`)
    rawRates.push(cfg.messages / (rd.elapsedMs / 1000))
    const d = await ask(driver, { type: 'bench.dispatch', host: cfg.target, n: cfg.messages }, { timeoutMs: 300_000 })
    if (d.delivered < cfg.messages) throw new Error(`roost delivered ${d.delivered} of ${cfg.messages}`)
    rates.push(cfg.messages / (d.elapsedMs / 1000))
    rawSamples = rawSamples.concat(await raw.latency(cfg.latencySamples))
    samples = samples.concat((await ask(driver, { type: 'bench.latency', host: cfg.target, n: cfg.latencySamples }, { timeoutMs: 300_000 })).samplesMs)
  }
  const stats = agent.transport.stats()
  process.stdout.write(JSON.stringify({
    messages: cfg.messages,
    rounds: cfg.rounds,
    ...dispatchFigures({ rates, rawRates, samples, rawSamples }),
    framesOverWireguard: stats.framesOut.wireguard - wgBefore,
    framesOverHyperswarm: stats.framesOut.hyperswarm
  }) + '\n')
  raw.stop()
} finally {
  await agent.stop()
}
process.exit(0)
