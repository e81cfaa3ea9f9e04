import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { connectControl } from '../../api/control-client.js'
import { DEFAULT_DHT_HOST, DEFAULT_DHT_PORT, parseBootstrap } from '../../dht/defaults.js'
import type { Logger } from '../../log/logger.js'
import { DEFAULT_CLUSTER, defaultDataDir, parseIntOption, readSecret, ROOST_VERSION, socketPathFor } from '../config.js'
import { ConfigError } from '../../errors/errors.js'
import { printJson, printTable, reportError } from '../output.js'

function parseProfile (value: string): 'lan' | 'wan' {
  if (value === 'lan' || value === 'wan') return value
  throw new ConfigError(`--gossip-profile must be lan or wan, not '${value}'`)
}

/** What the CLI needs to run an agent; injected by the composition root (bin/), so src/ never imports actors/. */
export interface AgentRunner {
  run: (init: {
    dataDir: string
    name: string
    cluster: string
    secret: string
    bootstrap: Array<{ host: string, port: number }>
    host: string
    port: number
    version: string
    region: string
    gossipProfile: 'lan' | 'wan'
    faults: boolean
  }, components: { logger: Logger }) => Promise<{ stop: () => Promise<void>, stopped: Promise<{ fatal?: Error }> }>
}

interface StartOptions {
  name?: string
  cluster: string
  secret?: string
  secretFile?: string
  bootstrap: string
  host: string
  port: string
  dataDir?: string
  logLevel?: string
  region: string
  gossipProfile: string
}

export function registerAgentCommands (program: Command, runner: AgentRunner): void {
  const agent = program.command('agent').description('run or inspect the node agent of this host')

  agent.command('start')
    .description('start the agent in the foreground (Ctrl-C stops it cleanly)')
    .option('--name <name>', 'name of this host in the cluster', hostname())
    .option('--cluster <name>', 'cluster name', DEFAULT_CLUSTER)
    .option('--secret <secret>', 'cluster secret (or --secret-file, or ROOST_SECRET)')
    .option('--secret-file <path>', 'file holding the cluster secret')
    .option('--bootstrap <host:port,...>', 'DHT bootstrap nodes (`roost dht`)', `${DEFAULT_DHT_HOST}:${DEFAULT_DHT_PORT}`)
    .option('--host <ip>', 'IP address the DHT node binds to (a concrete address, not 0.0.0.0)', '127.0.0.1')
    .option('--port <udp>', 'UDP port of the DHT node (0: any free port)', '0')
    .option('--region <label>', 'region of this host (spread by gossip; the basis of "closest")', process.env.ROOST_REGION ?? 'local')
    .option('--gossip-profile <profile>', 'membership timing: lan (fast detection) or wan (tolerant)', 'lan')
    .option('--data-dir <dir>', 'where the host key, state and control socket live', defaultDataDir())
    .option('--log-level <level>', 'trace|debug|info|warn|error', process.env.ROOST_LOG_LEVEL ?? 'info')
    .action(async (opts: StartOptions) => {
      const { createLogger } = await import('../../log/logger.js')
      const logger = createLogger({ level: opts.logLevel ?? 'info', base: { node: opts.name } })
      try {
        const host = await runner.run({
          dataDir: resolve(opts.dataDir ?? defaultDataDir()),
          name: opts.name ?? hostname(),
          cluster: opts.cluster,
          secret: readSecret(opts),
          bootstrap: parseBootstrap(opts.bootstrap),
          host: opts.host,
          port: parseIntOption(opts.port, '--port'),
          version: ROOST_VERSION,
          region: opts.region,
          gossipProfile: parseProfile(opts.gossipProfile),
          faults: process.env.ROOST_ENABLE_FAULTS === '1'
        }, { logger })
        let signals = 0
        const onSignal = (sig: string): void => {
          signals++
          if (signals > 1) process.exit(130)
          logger.info({ signal: sig }, 'signal received')
          host.stop().catch(() => {})
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
        const { fatal } = await host.stopped
        process.exitCode = fatal === undefined ? 0 : 1
      } catch (err) {
        logger.error({ err }, 'agent failed to start')
        process.exitCode = reportError(err, false)
      }
    })

  agent.command('info')
    .description('show what the local agent reports about itself')
    .option('--data-dir <dir>', 'data dir of the agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      try {
        const client = await connectControl(socketPathFor(opts.dataDir))
        try {
          const info = await client.call(async api => await api.info())
          if (opts.json === true) printJson(info)
          else printTable(['FIELD', 'VALUE'], Object.entries(info).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))
        } finally { client.close() }
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  agent.command('stop')
    .description('ask the local agent to stop gracefully')
    .option('--data-dir <dir>', 'data dir of the agent', defaultDataDir())
    .action(async (opts: { dataDir: string }) => {
      try {
        const client = await connectControl(socketPathFor(opts.dataDir))
        try { await client.call(async api => { await api.shutdown() }) } finally { client.close() }
      } catch (err) { process.exitCode = reportError(err, false) }
    })
}
