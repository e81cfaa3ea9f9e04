import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { AGENT_NODE_OPTIONS, AGENT_V8_FLAGS } from '../../src/threads/agent-heap.js'
import { createAgentHost, type AgentHost } from '../../actors/agent/host.js'
import { ROOST_VERSION } from '../../src/cli/config.js'
import { createLogger } from '../../src/log/logger.js'

// The dispatch benches (messaging, mesh) run two processes made alike: the sender (agent A with
// the driver actor, and the raw client) and the receiver (agent B with the sink actor, and the
// raw server). Each holds one end of both paths, and both get the same node arguments.

/** What both processes' agents are given. */
export interface BenchAgentConfig {
  name: string
  cluster: string
  secretFile: string
  bootstrap: { host: string, port: number }
  /** The IP the agent's DHT node (and the raw hyperswarm node) binds to. */
  host: string
  dataDir: string
  wireguard: 'on' | 'off'
}

export interface ReceiverConfig extends BenchAgentConfig {
  /** The raw path: a hyperswarm stream (messaging) or TCP on the host's mesh address (mesh). */
  raw: { kind: 'hyperswarm' } | { kind: 'tcp', port: number }
}

/** The receiver's one stdout line, once both its ends listen. */
export interface ReceiverReady {
  hostId: string
  pid: number
  raw: { kind: 'hyperswarm', publicKey: string } | { kind: 'tcp', address: string, port: number }
}

export interface SenderConfig extends BenchAgentConfig {
  receiver: ReceiverReady
  messages: number
  rounds: number
  latencySamples: number
  warmup: { latency: number, dispatch: number }
}

/** Starts the agent of a bench process (the process driver: no VMs here). */
export async function startBenchAgent (cfg: BenchAgentConfig): Promise<AgentHost> {
  const logger = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'warn', base: { node: cfg.name } })
  const secret = (await readFile(cfg.secretFile, 'utf8')).trim()
  const agent = await createAgentHost({
    dataDir: cfg.dataDir, name: cfg.name, cluster: cfg.cluster, secret, bootstrap: [cfg.bootstrap], host: cfg.host, port: 0, version: ROOST_VERSION, api: { host: '127.0.0.1', port: 0 }, wireguard: cfg.wireguard, driver: 'process'
  }, { logger })
  await agent.start()
  return agent
}

/** The node arguments of both bench processes: an agent's own options and V8 flags (agent-heap.ts), then BENCH_NODE_ARGS (space-separated; a repeated V8 flag's last value wins). */
export function benchNodeArgs (): string[] {
  return [...AGENT_NODE_OPTIONS, ...AGENT_V8_FLAGS, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(a => a.length > 0)]
}

/** Starts `bench/helpers/dispatch-<role>.ts` with its config (inside `netns` if given; its stderr piped to the caller if `stderr` is 'pipe'). */
export function spawnDispatchProcess (role: 'sender' | 'receiver', cfg: SenderConfig | ReceiverConfig, opts: { netns?: string, stderr?: 'pipe' | 'inherit' } = {}): ChildProcess {
  const script = fileURLToPath(new URL(`./dispatch-${role}.ts`, import.meta.url))
  const argv = [process.execPath, ...benchNodeArgs(), '--import=tsx', script, JSON.stringify(cfg)]
  const [cmd, ...args] = opts.netns === undefined ? argv : ['ip', 'netns', 'exec', opts.netns, ...argv]
  return spawn(cmd as string, args, { stdio: ['ignore', 'pipe', opts.stderr ?? 'inherit'] })
}

/** The first stdout line of a bench process, parsed; rejects if it exits without one. */
export async function firstJsonLine<T> (child: ChildProcess, what: string): Promise<T> {
  const rl = createInterface({ input: child.stdout! })
  for await (const line of rl) return JSON.parse(line) as T
  await new Promise(resolve => { if (child.exitCode === null && child.signalCode === null) child.once('exit', resolve); else resolve(undefined) })
  throw new Error(`${what} exited (code ${String(child.exitCode)}, signal ${String(child.signalCode)}) without a result; its stderr is above`)
}

/** Resolves when a bench process has exited with 0; rejects otherwise. */
export async function exitedCleanly (child: ChildProcess, what: string, timeoutMs = 60_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${what} did not exit within ${timeoutMs} ms`)) }, timeoutMs)
      child.once('exit', () => { clearTimeout(timer); resolve() })
    })
  }
  if (child.exitCode !== 0) throw new Error(`${what} exited with code ${String(child.exitCode)}, signal ${String(child.signalCode)}`)
}
