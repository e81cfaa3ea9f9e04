import { readFileSync } from 'node:fs'
import { cpus, hostname, totalmem } from 'node:os'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { LETS_ENCRYPT_DIRECTORY } from '../acme/acme-messages.js'
import { DEFAULT_DHT_HOST, DEFAULT_DHT_PORT, parseBootstrap } from '../dht/defaults.js'
import { ConfigError } from '../errors/errors.js'
import { DEFAULT_MESH_PORT } from '../transport/mesh-path.js'
import type { AgentFileValues } from './agent-config-file.js'
import { DEFAULT_CLUSTER, homeDataDir, parseIntOption, ROOST_VERSION } from './config.js'

/**
 * One option of the agent: how `roost agent start` takes it (flag, help), where it comes from
 * when not given (environment, config file, default) and how its text becomes a value. A value
 * is taken from, in order: the flag or the caller, the environment variable, the config file
 * (`--config`, keyed by the flag's long name), the default.
 */
export interface AgentOption<T> {
  /** The flag of `roost agent start` with its argument; absent: set by code or environment only. */
  readonly flag?: string
  readonly help: string
  /** Environment variable read when neither the flag nor the caller gives a value. */
  readonly env?: string
  /** The value when nothing gives one, as the text a flag would carry (`--help` shows it). */
  readonly default?: () => string
  /** Present when the option is required: the error when nothing gives it. */
  readonly missing?: string
  /** Only the CLI uses it (not part of the agent host's init). */
  readonly cliOnly?: true
  /**
   * The TOML type the config file gives it as: string (the default), integer, boolean (a switch
   * such as `--metrics-public`), list (a string or an array of strings) or path (a string;
   * relative to the file's folder).
   */
  readonly fileValue?: 'string' | 'integer' | 'boolean' | 'list' | 'path'
  /** Text (from a flag, the environment or the default) to value; `where` names the source in errors. */
  readonly parse: (text: string, where: string) => T
}

const text = (value: string): string => value
const path = (value: string): string => resolve(value)
const nonEmpty = (value: string, where: string): string => {
  if (value.length === 0) throw new ConfigError(`${where} must not be empty`)
  return value
}
const int = (min: number) => (value: string, where: string): number => parseIntOption(value, where, min)

function choice<const C extends string> (choices: readonly C[]) {
  return (value: string, where: string): C => {
    if ((choices as readonly string[]).includes(value)) return value as C
    throw new ConfigError(`${where} must be one of ${choices.join(', ')}, not '${value}'`)
  }
}

/** `host:port`, `[v6]:port` or a port alone (on 127.0.0.1). */
function listen (value: string, where: string): { host: string, port: number } {
  const m = /^(?:\[?([^\]]+?)\]?:)?(\d+)$/.exec(value)
  if (m === null) throw new ConfigError(`${where} must be host:port or a port, not '${value}'`)
  return { host: m[1] ?? '127.0.0.1', port: parseIntOption(m[2] ?? '', where) }
}

function bootstrap (value: string, where: string): Array<{ host: string, port: number }> {
  try {
    return parseBootstrap(value)
  } catch (err) {
    throw new ConfigError(`${where}: ${(err as Error).message}`)
  }
}

/** The agent's options, in the order `roost agent start --help` lists them. */
export const AGENT_OPTIONS = {
  config: { flag: '--config <file>', help: 'TOML file giving any of these options by their long name (data-dir = "/var/lib/roost"); flags and environment variables win over it', env: 'ROOST_CONFIG', cliOnly: true, parse: path },
  name: { flag: '--name <name>', help: 'name of this host in the cluster', default: () => hostname(), parse: text },
  cluster: { flag: '--cluster <name>', help: 'cluster name', default: () => DEFAULT_CLUSTER, parse: text },
  secret: {
    flag: '--secret <secret>',
    help: 'cluster secret, the same on every host; or --secret-file',
    env: 'ROOST_SECRET',
    missing: 'a cluster secret is required: --secret, --secret-file or ROOST_SECRET, or secret-file in the --config file (every host of the cluster uses the same one)',
    parse: nonEmpty
  },
  secretFile: { flag: '--secret-file <path>', help: 'file holding the cluster secret (read when --secret is not given)', fileValue: 'path', parse: path },
  bootstrap: { flag: '--bootstrap <host:port,...>', help: 'DHT bootstrap nodes (`roost dht`)', default: () => `${DEFAULT_DHT_HOST}:${DEFAULT_DHT_PORT}`, fileValue: 'list', parse: bootstrap },
  host: { flag: '--host <ip>', help: 'IP address the DHT node binds to (a concrete address, not 0.0.0.0)', default: () => '127.0.0.1', parse: text },
  port: { flag: '--port <udp>', help: 'UDP port of the DHT node (0: any free port)', default: () => '0', fileValue: 'integer', parse: int(0) },
  region: { flag: '--region <label>', help: 'region of this host (spread by gossip; the basis of "closest")', env: 'ROOST_REGION', default: () => 'local', parse: text },
  gossipProfile: { flag: '--gossip-profile <profile>', help: 'membership timing: lan (fast detection) or wan (tolerant)', default: () => 'lan', parse: choice(['lan', 'wan']) },
  dataDir: { flag: '--data-dir <dir>', help: 'where the host key, state and control socket live', env: 'ROOST_DATA_DIR', default: homeDataDir, fileValue: 'path', parse: path },
  logLevel: { flag: '--log-level <level>', help: 'trace|debug|info|warn|error', env: 'ROOST_LOG_LEVEL', default: () => 'info', cliOnly: true, parse: text },
  driver: { flag: '--driver <driver>', help: 'VM driver for machines: auto (qemu when installed, else process), qemu, process', env: 'ROOST_DRIVER', default: () => 'auto', parse: choice(['auto', 'qemu', 'process']) },
  capacityCpus: { flag: '--capacity-cpus <n>', help: 'vCPUs this host offers machines (shared vCPUs; default: cores × 8)', env: 'ROOST_CAPACITY_CPUS', default: () => String(cpus().length * 8), fileValue: 'integer', parse: int(1) },
  capacityMemoryMb: { flag: '--capacity-memory-mb <mib>', help: 'memory this host offers machines (default: 90 % of its RAM)', env: 'ROOST_CAPACITY_MEMORY_MB', default: () => String(Math.floor(totalmem() * 0.9 / (1024 * 1024))), fileValue: 'integer', parse: int(64) },
  imagesDir: { flag: '--images-dir <dir>', help: 'image store (default <data-dir>/images)', fileValue: 'path', parse: path },
  api: { flag: '--api <host:port>', help: 'Machines API listen address (port 0: any free port)', env: 'ROOST_API_LISTEN', default: () => '127.0.0.1:4280', parse: listen },
  apiToken: { flag: '--api-token <token>', help: 'Machines API bearer token; without one, <data-dir>/api.token (made on first start)', env: 'ROOST_API_TOKEN', parse: text },
  onExit: { flag: '--on-exit <keep|stop>', help: 'running VMs when the agent stops: keep them (re-adopted at next start) or stop them', default: () => 'keep', parse: choice(['keep', 'stop']) },
  wireguard: { flag: '--wireguard <auto|on|off>', help: 'WireGuard mesh between hosts: auto (when root with wireguard-go), on (required), off (hyperswarm streams only)', env: 'ROOST_WIREGUARD', default: () => 'auto', parse: choice(['auto', 'on', 'off']) },
  wireguardPort: { flag: '--wireguard-port <udp>', help: 'UDP port of this host\'s WireGuard interface (default: any free one, remembered in the data dir)', fileValue: 'integer', parse: int(0) },
  meshPort: { flag: '--mesh-port <tcp>', help: 'TCP port actor messages use between mesh addresses', default: () => String(DEFAULT_MESH_PORT), fileValue: 'integer', parse: int(1) },
  proxyAddress: { flag: '--proxy-address <ip>', help: 'address the router listens on for every app\'s public ports', env: 'ROOST_PROXY_ADDRESS', default: () => '0.0.0.0', parse: text },
  backhaulPort: { flag: '--backhaul-port <tcp>', help: 'TCP port other hosts\' routers reach this host\'s machines on (on the mesh address; the --host address with --wireguard off; 0: any free port, published by gossip)', default: () => '4282', fileValue: 'integer', parse: int(0) },
  domain: { flag: '--domain <domain>', help: 'cluster domain: every app answers as <app>.<domain>', env: 'ROOST_DOMAIN', default: () => 'roost.internal', parse: (value: string, where: string) => nonEmpty(value.toLowerCase().replace(/\.$/, ''), where) },
  caDir: { flag: '--ca-dir <dir>', help: 'a CA (ca.pem, ca-key.pem) that issues certificates for app hostnames on demand (default <data-dir>/ca when present; `roost dev` makes one)', env: 'ROOST_CA_DIR', fileValue: 'path', parse: path },
  metricsPublic: { flag: '--metrics-public', help: 'serve /metrics on the API listener without the API token (for a Prometheus that holds no token)', env: 'ROOST_METRICS_PUBLIC', default: () => '0', fileValue: 'boolean', parse: (value: string | boolean) => value === true || ['1', 'true', 'yes'].includes(String(value)) },
  acmeDirectory: { flag: '--acme-directory <url>', help: 'ACME directory `roost certs add --acme` uses when given none', env: 'ROOST_ACME_DIRECTORY', default: () => LETS_ENCRYPT_DIRECTORY, parse: nonEmpty },
  acmeEmail: { flag: '--acme-email <email>', help: 'contact of the cluster\'s ACME account (expiry notices)', env: 'ROOST_ACME_EMAIL', parse: nonEmpty },
  acmeCaFile: { flag: '--acme-ca-file <pem>', help: 'a CA to trust, besides the system roots, for the ACME directory\'s own HTTPS (a test CA such as Pebble\'s)', env: 'ROOST_ACME_CA_FILE', fileValue: 'path', parse: path },
  acmeHttpPort: { flag: '--acme-http-port <tcp>', help: 'port every router answers ACME http-01 challenges on, once the cluster uses ACME', env: 'ROOST_ACME_HTTP_PORT', default: () => '80', fileValue: 'integer', parse: int(1) },
  acmeRenewCheck: { flag: '--acme-renew-check <seconds>', help: 'how often ACME certificates are checked for renewal', env: 'ROOST_ACME_RENEW_CHECK', default: () => '3600', fileValue: 'integer', parse: int(1) },
  autostopInterval: { flag: '--autostop-interval <seconds>', help: 'idle time after which autostop stops or suspends a machine of an app that asks for it', default: () => '60', fileValue: 'integer', parse: int(1) },
  faults: { help: 'accept test-only fault injection messages', env: 'ROOST_ENABLE_FAULTS', default: () => '0', parse: (value: string) => value === '1' },
  dataPlaneInline: { help: 'tests and diagnosis only: run the proxy\'s data plane on the agent\'s own event loop instead of its worker thread', env: 'ROOST_DATAPLANE_INLINE', default: () => '0', parse: (value: string) => value === '1' },
  version: { help: 'the roost version this host announces', default: () => ROOST_VERSION, parse: text },
  maxFrameBytes: { help: 'largest frame a connection takes (transport default when unset)', parse: int(1) },
  idleTimeoutMs: { help: 'idle time after which a stream connection closes (transport default when unset)', parse: int(1) }
} as const satisfies Record<string, AgentOption<unknown>>

type Table = typeof AGENT_OPTIONS
type Key = keyof Table
type Value<K extends Key> = ReturnType<Table[K]['parse']>
type InitKey = { [K in Key]: Table[K] extends { cliOnly: true } ? never : K }[Key]
/** Options that always have a value once resolved: a default, or required. */
type SettledKey = { [K in InitKey]: Table[K] extends { default: unknown } | { missing: string } ? K : never }[InitKey]

/** What the agent host takes: any option may be given; the rest come from the environment and defaults. */
export type AgentOptions = { [K in InitKey]?: Value<K> }

/** The agent's options with the environment and defaults applied. */
export type AgentSettings = { [K in SettledKey]: Value<K> } & { [K in Exclude<InitKey, SettledKey>]?: Value<K> }

/** A value from the environment or the config file, not yet falling back to the default. */
function configured<K extends Key> (key: K, env: NodeJS.ProcessEnv, file: AgentFileValues | undefined): Value<K> | undefined {
  const option = AGENT_OPTIONS[key] as AgentOption<Value<K>>
  const fromEnv = option.env === undefined ? undefined : env[option.env]
  if (option.env !== undefined && fromEnv !== undefined && fromEnv.length > 0) return option.parse(fromEnv, option.env)
  const fromFile = file?.get(key)
  if (fromFile !== undefined) return option.parse(fromFile.text, fromFile.where)
  return undefined
}

/**
 * One option's value: given, else from its environment variable, else from the config file,
 * else its default (undefined when none).
 */
export function resolveAgentOption<K extends Key> (key: K, given: Value<K> | undefined, env: NodeJS.ProcessEnv = process.env, file?: AgentFileValues): Value<K> | undefined {
  if (given !== undefined) return given
  const value = configured(key, env, file)
  if (value !== undefined) return value
  const option = AGENT_OPTIONS[key] as AgentOption<Value<K>>
  if (option.default !== undefined) return option.parse(option.default(), `the default of ${option.flag ?? key}`)
  if (option.missing !== undefined) throw new ConfigError(option.missing)
  return undefined
}

function readSecretFile (file: string): string {
  const value = readFileSync(file, 'utf8').trim()
  if (value.length === 0) throw new ConfigError(`${file} is empty`)
  return value
}

/**
 * The cluster secret: --secret, --secret-file, ROOST_SECRET, the file's secret, the file's
 * secret-file. A secret file counts as giving the secret where it is given, so a flag's file
 * beats the environment and the environment beats the config file's.
 */
function resolveSecret (given: AgentOptions, env: NodeJS.ProcessEnv, file: AgentFileValues | undefined): string {
  if (given.secret !== undefined) return given.secret
  if (given.secretFile !== undefined) return readSecretFile(given.secretFile)
  const fromEnvOrFile = configured('secret', env, file)
  if (fromEnvOrFile !== undefined) return fromEnvOrFile
  const secretFile = configured('secretFile', {}, file)
  if (secretFile !== undefined) return readSecretFile(secretFile)
  throw new ConfigError(AGENT_OPTIONS.secret.missing)
}

/**
 * Every option of the agent host, from what the caller gave, the environment, the config file
 * (see `readAgentConfigFile`) and the defaults.
 */
export function resolveAgentOptions (given: AgentOptions, env: NodeJS.ProcessEnv = process.env, file?: AgentFileValues): AgentSettings {
  const values: Record<string, unknown> = {}
  for (const key of Object.keys(AGENT_OPTIONS) as Key[]) {
    if ('cliOnly' in AGENT_OPTIONS[key]) continue
    const value = key === 'secret'
      ? resolveSecret(given, env, file)
      : resolveAgentOption(key, (given as Record<string, unknown>)[key] as never, env, file)
    if (value !== undefined) values[key] = value
  }
  return values as AgentSettings
}

function helpOf (option: AgentOption<unknown>): string {
  const from = [
    ...(option.default === undefined ? [] : [`default: ${option.default()}`]),
    ...(option.env === undefined ? [] : [`env ${option.env}`])
  ]
  return from.length === 0 ? option.help : `${option.help} (${from.join('; ')})`
}

/** Adds every option that has a flag to `command`; values stay text (see `agentOptionsFromFlags`). */
export function addAgentOptionFlags (command: Command): Command {
  for (const option of Object.values(AGENT_OPTIONS) as Array<AgentOption<unknown>>) {
    if (option.flag !== undefined) command.option(option.flag, helpOf(option))
  }
  return command
}

/** The options given as flags (commander's text values by option key), parsed. */
export function agentOptionsFromFlags (flags: Record<string, string | undefined>): AgentOptions & { logLevel?: string } {
  const given: Record<string, unknown> = {}
  for (const [key, option] of Object.entries(AGENT_OPTIONS) as Array<[Key, AgentOption<unknown>]>) {
    const raw = flags[key]
    if (option.flag !== undefined && raw !== undefined) given[key] = option.parse(raw, option.flag.split(' ')[0] as string)
  }
  return given as AgentOptions & { logLevel?: string }
}
