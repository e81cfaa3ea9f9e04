import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { connectControl } from '../api/control-client.js'
import { controlSocketPath, type MemberView } from '../api/control-api.js'
import { killVms, liveVmsOf } from '../vmm/vm-sweep.js'
import { agentProcessEnv } from '../threads/malloc-env.js'

/**
 * How long an agent gets between SIGTERM and SIGKILL: it stops its machines first (each VM
 * is given a few seconds to power off, then killed), which a SIGKILL would cut short.
 */
const AGENT_STOP_GRACE_MS = 45_000

/** Settings of one host's agent in a local cluster. */
export interface LocalHostOptions {
  /** Extra `roost agent start` arguments, after `agentArgs` (e.g. its own `--region`). */
  args?: string[]
  /** CPUs its agent runs on (a `taskset -c` list, e.g. "1"); benches give a measured agent its own core. */
  cpus?: string
  /** Scheduling priority of its agent (`nice -n`, e.g. -10: a measured agent goes before its load generators). */
  nice?: number
  /** Node.js options of its agent process (e.g. `--cpu-prof` for a profile of it). */
  nodeArgs?: string[]
}

export interface LocalClusterInit {
  /** Path of the `roost` executable script (bin/roost.js). */
  binPath: string
  hosts: number
  /** Where each host's data dir, log and the cluster secret go. */
  dir: string
  cluster?: string
  /** Extra environment for every child. */
  env?: Record<string, string>
  logLevel?: string
  /** How long to wait for every host to see every other (ms). */
  readyTimeoutMs?: number
  /** Extra `roost agent start` arguments for every host (e.g. `--driver process`). */
  agentArgs?: string[]
  /** What one host's agent gets besides the rest: see {@link LocalHostOptions}. */
  perHost?: (name: string) => LocalHostOptions
  /**
   * The first three octets of the hosts' loopback addresses: host `hN` binds its DHT node, its
   * router's listeners and its backhaul to `<loopback>.N`, as separate servers would (default: a
   * random 127.x.y, so clusters started side by side do not share ports).
   */
  loopback?: string
  /** A CA directory every agent issues app certificates from (`--ca-dir`). */
  caDir?: string
}

export interface LocalHost {
  name: string
  /** Its own loopback address (DHT node, router listeners, backhaul). */
  address: string
  dataDir: string
  socketPath: string
  logFile: string
  process: ChildProcess
}

/** The image store every host of a local cluster shares (`<dir>/images`). */
export function localImagesDir (dir: string): string {
  return join(resolve(dir), 'images')
}

/** A DHT bootstrap and N agents, each its own process on loopback. */
export interface LocalCluster {
  bootstrap: { host: string, port: number }
  secretFile: string
  dht: ChildProcess
  hosts: LocalHost[]
  /** Starts an agent process for `name` (again, after a kill) and waits for its control socket. */
  startHost: (name: string) => Promise<LocalHost>
  /** Waits until every running host lists every other as met. */
  waitForMembership: (timeoutMs?: number) => Promise<Map<string, MemberView[]>>
  /**
   * SIGTERM every child, SIGKILL after a grace period; once all have exited, checks by pid that
   * no machine of any host still runs and kills (and reports) those that do.
   */
  stop: () => Promise<ClusterStopReport>
}

/** A machine's VM found running after its agent had exited. */
export interface LeftVm {
  host: string
  machineId: string
  pid: number
}

/** What `stop` found: VMs the agents left running (killed), and any that would not die. */
export interface ClusterStopReport {
  killed: LeftVm[]
  survivors: LeftVm[]
}

export async function freeUdpPort (host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolvePort, reject) => {
    const s = createSocket('udp4')
    s.once('error', reject)
    s.bind(0, host, () => {
      const { port } = s.address()
      s.close(() => { resolvePort(port) })
    })
  })
}

async function waitFor<T> (fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) { last = err }
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`)
}

export async function exited (child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>(resolveExit => {
    const t = setTimeout(() => { child.kill('SIGKILL') }, graceMs)
    child.once('exit', () => { clearTimeout(t); resolveExit() })
  })
}

export async function startLocalCluster (init: LocalClusterInit): Promise<LocalCluster> {
  const dir = resolve(init.dir)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const secretFile = join(dir, 'cluster.secret')
  await writeFile(secretFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 })
  const port = await freeUdpPort()
  const bootstrap = { host: '127.0.0.1', port }
  const env = agentProcessEnv({ ...process.env, ...init.env })
  const logLevel = init.logLevel ?? 'info'
  const children: ChildProcess[] = []

  const dhtLog = await open(join(dir, 'dht.log'), 'a')
  const dht = spawn(process.execPath, [init.binPath, 'dht', '--port', String(port), '--log-level', logLevel], { stdio: ['ignore', dhtLog.fd, dhtLog.fd], env })
  await dhtLog.close()
  children.push(dht)

  const hosts: LocalHost[] = []
  const loopback = init.loopback ?? `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}`
  const addressOf = (name: string): string => `${loopback}.${Math.min(254, Number(/(\d+)$/.exec(name)?.[1] ?? hosts.length + 1))}`
  const startHost = async (name: string): Promise<LocalHost> => {
    const address = addressOf(name)
    const dataDir = join(dir, name)
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    const logFile = join(dataDir, 'agent.log')
    const log = await open(logFile, 'a')
    const own = init.perHost?.(name) ?? {}
    // taskset and nice exec node in place, so the child's pid is the agent's.
    const wrap = [...(own.cpus === undefined ? [] : ['taskset', '-c', own.cpus]), ...(own.nice === undefined ? [] : ['nice', '-n', String(own.nice)])]
    const child = spawn(wrap[0] ?? process.execPath, [
      ...wrap.slice(1),
      ...(wrap.length === 0 ? [] : [process.execPath]),
      ...(own.nodeArgs ?? []),
      init.binPath, 'agent', 'start', '--name', name, '--cluster', init.cluster ?? 'dev',
      '--secret-file', secretFile, '--bootstrap', `${bootstrap.host}:${bootstrap.port}`,
      '--data-dir', dataDir, '--log-level', logLevel, '--host', address, '--proxy-address', address,
      ...(init.caDir === undefined ? [] : ['--ca-dir', init.caDir]),
      '--api', '127.0.0.1:0', '--images-dir', localImagesDir(dir), '--on-exit', 'stop',
      // Agents sharing one network namespace have no use for tunnels between them (`roost lab` has them).
      ...((init.agentArgs ?? []).includes('--wireguard') ? [] : ['--wireguard', 'off']),
      ...(init.agentArgs ?? []),
      ...(own.args ?? [])
    ], { stdio: ['ignore', log.fd, log.fd], env })
    await log.close()
    children.push(child)
    const host: LocalHost = { name, address, dataDir, socketPath: controlSocketPath(dataDir), logFile, process: child }
    const i = hosts.findIndex(h => h.name === name)
    if (i >= 0) hosts[i] = host
    else hosts.push(host)
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`agent ${name} exited with ${child.exitCode}; see ${logFile}`)
      const c = await connectControl(host.socketPath)
      try { await c.call(async api => await api.info()) } finally { c.close() }
      // Its control socket answers before its agent.json is written, and an agent killed with -9 leaves its own behind: wait for this one's.
      const info = JSON.parse(await readFile(join(dataDir, 'agent.json'), 'utf8')) as { pid?: unknown }
      return info.pid === child.pid ? true : undefined
    }, 30_000, `agent ${name} to answer on ${host.socketPath} and write its agent.json`)
    return host
  }

  const waitForMembership = async (timeoutMs = init.readyTimeoutMs ?? 30_000): Promise<Map<string, MemberView[]>> => {
    const running = hosts.filter(h => h.process.exitCode === null && h.process.signalCode === null)
    const names = new Set(running.map(h => h.name))
    return await waitFor(async () => {
      const views = new Map<string, MemberView[]>()
      for (const h of running) {
        const c = await connectControl(h.socketPath)
        try {
          const members = await c.call(async api => await api.members())
          const met = new Set(members.filter(m => m.state === 'alive').map(m => m.name))
          for (const n of names) if (!met.has(n)) return undefined
          views.set(h.name, members)
        } finally { c.close() }
      }
      return views
    }, timeoutMs, 'every host to meet every other')
  }

  /** After the agents: VMs still running, found by each host's recorded pids and machine paths. */
  const sweep = async (): Promise<ClusterStopReport> => {
    const left = hosts.flatMap(h => liveVmsOf(h.dataDir).map(vm => ({ ...vm, host: h.name })))
    const survivors = new Set((await killVms(left)).map(vm => vm.pid))
    const report = (vm: typeof left[number]): LeftVm => ({ host: vm.host, machineId: vm.machineId, pid: vm.pid })
    return { killed: left.filter(vm => !survivors.has(vm.pid)).map(report), survivors: left.filter(vm => survivors.has(vm.pid)).map(report) }
  }

  const stop = async (): Promise<ClusterStopReport> => {
    const agents = children.filter(c => c !== dht)
    for (const c of agents) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
    await Promise.all(agents.map(async c => { await exited(c, AGENT_STOP_GRACE_MS) }))
    if (dht.exitCode === null && dht.signalCode === null) dht.kill('SIGTERM')
    await exited(dht)
    return await sweep()
  }

  try {
    for (let i = 1; i <= init.hosts; i++) await startHost(`h${i}`)
  } catch (err) {
    await stop()
    throw err
  }
  return { bootstrap, secretFile, dht, hosts, startHost, waitForMembership, stop }
}
