import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { DEFAULT_DHT_HOST, DEFAULT_DHT_PORT, parseBootstrap } from '../../dht/defaults.js'
import type { Logger } from '../../log/logger.js'
import { DEFAULT_CLUSTER, defaultDataDir, parseIntOption, readSecret, ROOST_VERSION } from '../config.js'
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
    driver: 'auto' | 'qemu' | 'process'
    imagesDir?: string
    apiHost: string
    apiPort: number
    apiToken?: string
    onExit: 'keep' | 'stop'
    wireguard: 'auto' | 'on' | 'off'
    wireguardPort?: number
    meshPort?: number
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
  driver: string
  imagesDir?: string
  api: string
  apiToken?: string
  onExit: string
  wireguard: string
  wireguardPort?: string
  meshPort?: string
}

function parseChoice<T extends string> (value: string, choices: readonly T[], flag: string): T {
  if ((choices as readonly string[]).includes(value)) return value as T
  throw new ConfigError(`${flag} must be one of ${choices.join(', ')}, not '${value}'`)
}

/** `host:port` (or just a port) of the Machines API. */
function parseListen (value: string): { host: string, port: number } {
  const m = /^(?:\[?([^\]]+?)\]?:)?(\d+)$/.exec(value)
  if (m === null) throw new ConfigError(`--api must be host:port or a port, not '${value}'`)
  return { host: m[1] ?? '127.0.0.1', port: parseIntOption(m[2] ?? '', '--api') }
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
    .option('--driver <driver>', 'VM driver for machines: auto (qemu when installed, else process), qemu, process', process.env.ROOST_DRIVER ?? 'auto')
    .option('--images-dir <dir>', 'image store (default <data-dir>/images)')
    .option('--api <host:port>', 'Machines API listen address (port 0: any free port)', process.env.ROOST_API_LISTEN ?? '127.0.0.1:4280')
    .option('--api-token <token>', 'Machines API bearer token (default: <data-dir>/api.token, created on first start; or ROOST_API_TOKEN)')
    .option('--on-exit <keep|stop>', 'running VMs when the agent stops: keep them (re-adopted at next start) or stop them', 'keep')
    .option('--wireguard <auto|on|off>', 'WireGuard mesh between hosts: auto (when root with wireguard-go), on (required), off (hyperswarm streams only)', process.env.ROOST_WIREGUARD ?? 'auto')
    .option('--wireguard-port <udp>', 'UDP port of this host\'s WireGuard interface (default: any free one, remembered in the data dir)')
    .option('--mesh-port <tcp>', 'TCP port actor messages use between mesh addresses', '4281')
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
          faults: process.env.ROOST_ENABLE_FAULTS === '1',
          driver: parseChoice(opts.driver, ['auto', 'qemu', 'process'] as const, '--driver'),
          ...(opts.imagesDir === undefined ? {} : { imagesDir: resolve(opts.imagesDir) }),
          apiHost: parseListen(opts.api).host,
          apiPort: parseListen(opts.api).port,
          ...(opts.apiToken === undefined ? {} : { apiToken: opts.apiToken }),
          onExit: parseChoice(opts.onExit, ['keep', 'stop'] as const, '--on-exit'),
          wireguard: parseChoice(opts.wireguard, ['auto', 'on', 'off'] as const, '--wireguard'),
          ...(opts.wireguardPort === undefined ? {} : { wireguardPort: parseIntOption(opts.wireguardPort, '--wireguard-port') }),
          ...(opts.meshPort === undefined ? {} : { meshPort: parseIntOption(opts.meshPort, '--mesh-port', 1) })
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
        const info = await callAgent(opts.dataDir, async api => await api.info())
        if (opts.json === true) printJson(info)
        else printTable(['FIELD', 'VALUE'], Object.entries(info).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  agent.command('stop')
    .description('ask the local agent to stop gracefully')
    .option('--data-dir <dir>', 'data dir of the agent', defaultDataDir())
    .action(async (opts: { dataDir: string }) => {
      try {
        await callAgent(opts.dataDir, async api => { await api.shutdown() })
      } catch (err) { process.exitCode = reportError(err, false) }
    })
}
