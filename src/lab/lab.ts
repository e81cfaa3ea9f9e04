import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { controlSocketPath } from '../api/control-api.js'
import { LabError, LabUnsupportedError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import {
  endNetnsProcesses, isRunning, memberViews, pidsInNetns, pollUntil, spawnInNetns, terminate, waitForControl, waitForLogLine
} from './lab-agents.js'
import { labAvailable } from './lab-available.js'
import { createLabNetwork, execInNetns, listNetns, type HostLink, type LabNetwork } from './lab-network.js'
import { BRIDGE_ADDRESS, checkHostName, LAB_NETNS_PREFIX, MAX_HOST_INDEX, newLabId, parseLabNetns } from './lab-names.js'
import { sweepStaleLabs } from './lab-sweep.js'
import { agentProcessEnv } from '../threads/malloc-env.js'

export { labAvailable, nftAvailable } from './lab-available.js'
export { sweepStaleLabs } from './lab-sweep.js'
export { LabError, LabUnsupportedError } from '../errors/errors.js'

/** UDP port of the lab's DHT bootstrap (on the bridge address, inside the bridge namespace). */
export const LAB_DHT_PORT = 49737
const DEFAULT_READY_TIMEOUT_MS = 30_000
const DEFAULT_CLUSTER = 'lab'
const AGENT_GRACE_MS = 10_000
/** How long a killed host's processes may take to be gone. */
const HOST_DEATH_MS = 10_000

export interface LabInit {
  /** Agents started by start() (h1…hN). */
  hosts: number
  /** Path of the `roost` executable script (bin/roost.js). */
  binPath: string
  /** Data dirs, logs and cluster.secret go under here. */
  dir: string
  /** Cluster name (default 'lab'). */
  cluster?: string
  logLevel?: string
  /** Extra environment for every child. */
  env?: Record<string, string>
  /** Extra `roost agent start` arguments for every host (e.g. `['--driver', 'process']`). */
  agentArgs?: string[]
  /** How long to wait for an agent's control socket, and for membership (ms). */
  readyTimeoutMs?: number
}

/** One host of the lab: a namespace on the lab bridge, a data dir, and (while running) its agent. */
export interface LabHost {
  /** h1…hN, or the name given to addHost. */
  name: string
  /** Its network namespace. */
  netns: string
  /** IPv4 of its veth inside its namespace (10.77.0.(10+i)). */
  address: string
  /** Its veth's name inside the namespace. */
  ifname: string
  dataDir: string
  socketPath: string
  logFile: string
  /** The running agent; undefined when stopped or killed. */
  process: ChildProcess | undefined
}

/**
 * N hosts on one machine, each a network namespace on a shared bridge (itself in its own
 * namespace) running its own `roost agent`, plus a DHT bootstrap on the bridge. Root only.
 */
export interface Lab {
  /** 4 hex digits; part of every namespace and interface name of the lab. */
  readonly id: string
  readonly hosts: LabHost[]
  readonly bootstrap: { host: string, port: number }
  readonly secretFile: string
  /** Idempotent: bridge namespace, DHT bootstrap, N host namespaces and their agents. */
  start: () => Promise<void>
  /** Idempotent, safe at any point: SIGTERM agents (SIGKILL after a grace period), the DHT, then every namespace the lab made. */
  stop: () => Promise<void>
  /**
   * Creates a namespace and veth for a new host; starts its agent unless `opts.start === false`.
   * `secret`/`cluster` override the lab's (a foreign host that must be refused); `agentArgs` are appended.
   */
  addHost: (name: string, opts?: { secret?: string, cluster?: string, agentArgs?: string[], start?: boolean }) => Promise<LabHost>
  /** (Re)starts that host's agent (a running one is stopped with SIGTERM first) and waits for its control socket. */
  startAgent: (name: string) => Promise<LabHost>
  /** Signals the host's agent (default SIGKILL) and waits for it to exit. */
  killAgent: (name: string, signal?: NodeJS.Signals) => Promise<void>
  /**
   * The host dies as a server losing power does: every process in its namespace (agent,
   * wireguard-go, machines) gets SIGKILL. Resolves with their pids once none is left.
   */
  killHost: (name: string) => Promise<number[]>
  /** The host loses the bridge (its bridge port goes down): nothing in, nothing out. */
  cutLink: (name: string) => Promise<void>
  restoreLink: (name: string) => Promise<void>
  /**
   * Delay and/or loss on the host's link. Loss uses nftables (`numgen random mod 100 < N drop`,
   * in and out); delay needs the netem qdisc and throws LabUnsupportedError where it is missing.
   */
  impair: (name: string, opts: { delayMs?: number, lossPct?: number }) => Promise<void>
  clearImpair: (name: string) => Promise<void>
  /**
   * Splits the hosts into groups that cannot reach one another (each host drops what it
   * exchanges with the hosts of the other groups; the bridge and its DHT stay reachable). Hosts
   * named in no group keep reaching everyone. Replaces an earlier partition.
   */
  partition: (groups: string[][]) => Promise<void>
  /** Ends the partition (idempotent). */
  heal: () => Promise<void>
  /** Runs a command inside the host's namespace and resolves with stdout; LabError on failure. */
  exec: (name: string, cmd: string, args: string[]) => Promise<string>
  /** Resolves when every running agent of the lab's cluster sees every other one alive (hosts added with another secret or cluster are left out). */
  waitForMembership: (timeoutMs?: number) => Promise<void>
  /** The host called `name`; LabError when there is none. */
  host: (name: string) => LabHost
}

interface HostSpec {
  host: LabHost
  link: HostLink
  index: number
  secretFile: string
  cluster: string
  agentArgs: string[]
  /** Added with its own secret or cluster: not expected to join the others. */
  foreign: boolean
}

export function createLab (init: LabInit, components: { logger: Logger }): Lab {
  const log = components.logger
  const dir = resolve(init.dir)
  const secretFile = join(dir, 'cluster.secret')
  const bootstrap = { host: BRIDGE_ADDRESS, port: LAB_DHT_PORT }
  const readyTimeoutMs = init.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS
  const logLevel = init.logLevel ?? 'info'
  const env = agentProcessEnv({ ...process.env, ...init.env })
  const specs = new Map<string, HostSpec>()
  const hosts: LabHost[] = []
  let id = newLabId()
  let network: LabNetwork | undefined
  let dht: ChildProcess | undefined
  let starting: Promise<void> | undefined
  let started = false

  function spec (name: string): HostSpec {
    const s = specs.get(name)
    if (s === undefined) throw new LabError(`no lab host called '${name}' (hosts: ${[...specs.keys()].join(', ') || 'none'})`)
    return s
  }

  function requireNetwork (): LabNetwork {
    if (network === undefined || !started) throw new LabError('the lab is not started')
    return network
  }

  async function startDht (net: LabNetwork): Promise<void> {
    const logFile = join(dir, 'dht.log')
    const child = await spawnInNetns(net.bridgeNetns, [init.binPath, 'dht', '--host', bootstrap.host, '--port', String(bootstrap.port), '--log-level', logLevel], logFile, env)
    dht = child
    await waitForLogLine(child, logFile, `dht bootstrap listening on ${bootstrap.host}:${bootstrap.port}`, 'the lab DHT bootstrap', readyTimeoutMs)
  }

  async function spawnAgent (s: HostSpec): Promise<void> {
    const h = s.host
    const child = await spawnInNetns(s.link.netns, [
      init.binPath, 'agent', 'start', '--name', h.name, '--cluster', s.cluster, '--secret-file', s.secretFile,
      '--host', h.address, '--bootstrap', `${bootstrap.host}:${bootstrap.port}`, '--api', '127.0.0.1:0',
      '--data-dir', h.dataDir, '--images-dir', join(dir, 'images'), '--log-level', logLevel, '--on-exit', 'stop',
      ...s.agentArgs
    ], h.logFile, env)
    h.process = child
    child.once('exit', () => { if (h.process === child) h.process = undefined })
    await waitForControl(child, h.socketPath, h.logFile, `agent ${h.name}`, readyTimeoutMs)
    log.debug({ host: h.name, pid: child.pid, netns: h.netns }, 'lab agent answering')
  }

  async function createHost (name: string, opts: { secret?: string, cluster?: string, agentArgs?: string[] }): Promise<HostSpec> {
    checkHostName(name)
    if (specs.has(name)) throw new LabError(`lab host '${name}' exists already`)
    const net = requireNetwork()
    const index = Math.max(0, ...[...specs.values()].map(s => s.index)) + 1
    if (index > MAX_HOST_INDEX) throw new LabError(`a lab holds at most ${MAX_HOST_INDEX} hosts`)
    const dataDir = join(dir, name)
    await mkdir(dataDir, { recursive: true, mode: 0o700 })
    let hostSecret = secretFile
    if (opts.secret !== undefined) {
      hostSecret = join(dir, `${name}.secret`)
      await writeFile(hostSecret, opts.secret + '\n', { mode: 0o600 })
    }
    const link = await net.addHost(name, index)
    const host: LabHost = {
      name, netns: link.netns, address: link.address, ifname: link.ifname,
      dataDir, socketPath: controlSocketPath(dataDir), logFile: join(dataDir, 'agent.log'), process: undefined
    }
    const cluster = opts.cluster ?? init.cluster ?? DEFAULT_CLUSTER
    const s: HostSpec = {
      host, link, index, secretFile: hostSecret, cluster,
      agentArgs: [...(init.agentArgs ?? []), ...(opts.agentArgs ?? [])],
      foreign: opts.secret !== undefined || cluster !== (init.cluster ?? DEFAULT_CLUSTER)
    }
    specs.set(name, s)
    hosts.push(host)
    return s
  }

  async function teardown (): Promise<void> {
    const agents = [...specs.values()].map(s => s.host.process).filter((c): c is ChildProcess => isRunning(c))
    await Promise.all(agents.map(async c => { await terminate(c, 'SIGTERM', AGENT_GRACE_MS) }))
    if (dht !== undefined) await terminate(dht, 'SIGTERM', AGENT_GRACE_MS)
    dht = undefined
    const net = network
    if (net !== undefined) {
      const bridgeLast = [...net.namespaces().filter(n => n !== net.bridgeNetns), ...net.namespaces().filter(n => n === net.bridgeNetns)]
      const failures: unknown[] = []
      for (const netns of bridgeLast) {
        try {
          await endNetnsProcesses(netns, log)
          await net.removeNamespace(netns)
        } catch (err) {
          log.warn({ err, netns }, 'could not remove a lab namespace')
          failures.push(err)
        }
      }
      // Kept on failure, so a second stop() retries what is left.
      if (failures.length > 0) throw new LabError(`could not remove ${failures.length} lab namespace(s): ${net.namespaces().join(', ')}`, { namespaces: net.namespaces() })
    }
    network = undefined
    started = false
  }

  async function doStart (): Promise<void> {
    const available = labAvailable()
    if (!available.ok) throw new LabUnsupportedError(`cannot build a lab: ${available.reason}`)
    await sweepStaleLabs(log)
    specs.clear()
    hosts.length = 0
    const taken = (await listNetns()).map(n => parseLabNetns(n)?.labId).filter((x): x is string => x !== undefined)
    if (taken.includes(id)) id = newLabId(taken)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await writeFile(secretFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 })
    const net = createLabNetwork({ ownerPid: process.pid, labId: id }, { logger: log })
    network = net
    started = true
    try {
      await net.createBridge()
      await startDht(net)
      const created: HostSpec[] = []
      for (let i = 1; i <= init.hosts; i++) created.push(await createHost(`h${i}`, {}))
      await Promise.all(created.map(spawnAgent))
      log.info({ lab: id, hosts: init.hosts, prefix: `${LAB_NETNS_PREFIX}${process.pid}-${id}-` }, 'lab started')
    } catch (err) {
      await teardown().catch((e: unknown) => { log.warn({ err: e }, 'lab teardown after a failed start failed') })
      throw err
    }
  }

  return {
    get id () { return id },
    hosts,
    bootstrap,
    secretFile,

    async start () {
      if (started && starting === undefined) return
      starting ??= doStart().finally(() => { starting = undefined })
      await starting
    },

    async stop () {
      await starting?.catch(() => {})
      await teardown()
    },

    async addHost (name, opts = {}) {
      const s = await createHost(name, opts)
      if (opts.start !== false) await spawnAgent(s)
      return s.host
    },

    async startAgent (name) {
      const s = spec(name)
      requireNetwork()
      const running = s.host.process
      if (running !== undefined) await terminate(running, 'SIGTERM', AGENT_GRACE_MS)
      await spawnAgent(s)
      return s.host
    },

    async killAgent (name, signal = 'SIGKILL') {
      const child = spec(name).host.process
      if (child !== undefined) await terminate(child, signal, AGENT_GRACE_MS)
    },

    async killHost (name) {
      const netns = spec(name).link.netns
      const sigkill = (pid: number): void => { try { process.kill(pid, 'SIGKILL') } catch {} }
      const pids = await pidsInNetns(netns)
      pids.forEach(sigkill)
      // A process the agent was spawning at that moment shows up on a second look.
      for (const pid of await pidsInNetns(netns)) if (!pids.includes(pid)) { pids.push(pid); sigkill(pid) }
      const agent = spec(name).host.process
      if (agent !== undefined) await terminate(agent, 'SIGKILL', AGENT_GRACE_MS)
      await pollUntil(async () => (await pidsInNetns(netns)).length === 0 ? true : undefined, HOST_DEATH_MS, `every process of ${name} to die`)
      return pids
    },

    async cutLink (name) { await requireNetwork().cutLink(spec(name).link) },
    async restoreLink (name) { await requireNetwork().restoreLink(spec(name).link) },
    async impair (name, opts) { await requireNetwork().impair(spec(name).link, opts) },
    async clearImpair (name) { await requireNetwork().clearImpair(spec(name).link) },

    async partition (groups) {
      const net = requireNetwork()
      const named = groups.flat()
      if (new Set(named).size !== named.length) throw new LabError(`a host is in two groups: ${JSON.stringify(groups)}`)
      const groupOf = new Map(groups.flatMap((g, i) => g.map(n => [spec(n).host.name, i] as const)))
      for (const s of specs.values()) {
        const mine = groupOf.get(s.host.name)
        const others = mine === undefined ? [] : [...specs.values()].filter(o => { const g = groupOf.get(o.host.name); return g !== undefined && g !== mine }).map(o => o.host.address)
        if (others.length === 0) await net.unblock(s.link)
        else await net.block(s.link, others)
      }
    },

    async heal () {
      const net = requireNetwork()
      for (const s of specs.values()) await net.unblock(s.link)
    },

    async exec (name, cmd, args) {
      return await execInNetns(spec(name).host.netns, cmd, args)
    },

    async waitForMembership (timeoutMs = readyTimeoutMs) {
      const running = [...specs.values()].filter(s => !s.foreign && isRunning(s.host.process)).map(s => s.host)
      const names = running.map(h => h.name)
      await pollUntil(async () => {
        for (const h of running) {
          const alive = new Set((await memberViews(h.socketPath)).filter(m => m.state === 'alive').map(m => m.name))
          if (names.some(n => !alive.has(n))) return undefined
        }
        return true
      }, timeoutMs, `every running lab agent (${names.join(', ')}) to see every other alive`)
    },

    host (name) { return spec(name).host }
  }
}
