import { mkdir, writeFile, rm } from 'node:fs/promises'
import { join, resolve as resolvePath } from 'node:path'
import { CONTROL_SOCKET_FILE } from '../../src/api/control-api.js'
import { createControlServer, type ControlServer } from '../../src/api/control-server.js'
import { createCodec } from '../../src/codec/codec.js'
import type { Logger } from '../../src/log/logger.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createHyperswarmTransport } from '../../src/transport/hyperswarm-transport.js'
import { deriveClusterKeys } from '../../src/transport/cluster-keys.js'
import { createMeshPath } from '../../src/transport/mesh-path.js'
import { createMeshTransport, type MeshTransport } from '../../src/transport/mesh-transport.js'
import type { WireguardMode } from '../wireguard/wireguard-actor.js'
import { loadOrCreateHostSeed } from '../../src/transport/host-key.js'
import type { ProfileName } from '../../src/gossip/swim-config.js'
import { ref } from '../../src/runtime/ref.js'
import type { Transport } from '../../src/transport/transport.js'
import type { MembershipProtocol } from '../membership/messages.js'
import { createMachinesApiServer, type MachinesApiServer } from '../../src/api/machines/http-server.js'
import { createMachinesBackend } from '../machines/backend.js'
import type { MachinesProtocol } from '../machines/messages.js'
import { agentActor } from './agent-actor.js'
import { createControlApi } from './control.js'
import { DEFAULT_API_PORT, loadApiToken, setupMachines, type DriverChoice, type MachinesSetup } from './machines-setup.js'

export interface AgentHostInit {
  dataDir: string
  name: string
  cluster: string
  secret: string
  bootstrap: Array<{ host: string, port: number }>
  /** Concrete IP the DHT node binds to. */
  host: string
  /** UDP port of the DHT node (0: any). */
  port: number
  version: string
  /** Region label spread with this host's membership (the basis of "closest"). */
  region?: string
  gossipProfile?: ProfileName
  /** Accept test-only fault injection messages. */
  faults?: boolean
  maxFrameBytes?: number
  idleTimeoutMs?: number
  /** VM driver for machines: auto (qemu when installed), qemu or process. */
  driver?: DriverChoice
  /** Images directory (default `<dataDir>/images`). */
  imagesDir?: string
  /** Machines API listen address (default 127.0.0.1:4280; port 0 picks one). */
  apiHost?: string
  apiPort?: number
  /** Machines API bearer token (default: `<dataDir>/api.token`, created on first start). */
  apiToken?: string
  /** What happens to running VMs when the agent stops: `keep` them for re-adoption (default) or `stop` them. */
  onExit?: 'keep' | 'stop'
  /** WireGuard mesh: auto (where root and wireguard-go allow), on (required), off (default here; the CLI defaults to auto). */
  wireguard?: WireguardMode
  /** UDP port of the WireGuard interface (0: any, remembered in the data dir). */
  wireguardPort?: number
  /** TCP port actor messages use between mesh addresses. */
  meshPort?: number
}

export interface AgentHostComponents {
  logger: Logger
}

/** One running agent: transport, actor system with the `/agent` tree, and control socket. */
export interface AgentHost {
  readonly hostId: string
  readonly system: ActorSystem
  readonly transport: MeshTransport
  readonly socketPath: string
  /** The Machines API's base URL (after start). */
  apiUrl: () => string
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Resolves when the agent has stopped (by `stop`, the control API, or a fatal failure). */
  readonly stopped: Promise<{ fatal?: Error }>
}

export async function createAgentHost (init: AgentHostInit, components: AgentHostComponents): Promise<AgentHost> {
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const seed = await loadOrCreateHostSeed(init.dataDir)
  const codec = createCodec()
  const logger = components.logger
  const stream = createHyperswarmTransport({
    cluster: init.cluster,
    secret: init.secret,
    seed,
    name: init.name,
    version: init.version,
    bootstrap: init.bootstrap,
    host: init.host,
    port: init.port,
    ...(init.maxFrameBytes === undefined ? {} : { maxFrameBytes: init.maxFrameBytes }),
    ...(init.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: init.idleTimeoutMs })
  }, { logger, codec })
  const wireguard = init.wireguard ?? 'off'
  const mesh = wireguard === 'off'
    ? undefined
    : createMeshPath({ hostId: stream.hostId, keys: deriveClusterKeys(init.cluster, init.secret), ...(init.meshPort === undefined ? {} : { port: init.meshPort }), ...(init.maxFrameBytes === undefined ? {} : { maxFrameBytes: init.maxFrameBytes }) }, { logger, codec })
  const transport = createMeshTransport({}, { logger, stream, ...(mesh === undefined ? {} : { mesh }) })
  const system = createActorSystem({ hostId: transport.hostId }, { logger, codec, transport })
  const socketPath = join(init.dataDir, CONTROL_SOCKET_FILE)
  const infoFile = join(init.dataDir, 'agent.json')
  let control: ControlServer | undefined
  let api: MachinesApiServer | undefined
  let machines: MachinesSetup | undefined
  let apiUrl = ''
  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  let resolveStopped: (v: { fatal?: Error }) => void = () => {}
  const stopped = new Promise<{ fatal?: Error }>(resolve => { resolveStopped = resolve })

  const stop = async (fatal?: Error): Promise<void> => {
    if (state === 'stopping' || state === 'stopped') return await stopped.then(() => {})
    state = 'stopping'
    logger.info({ fatal: fatal?.message }, 'agent stopping')
    await control?.stop().catch(() => {})
    await api?.stop().catch(() => {})
    if (system.has('/agent/machines')) {
      const stopVms = init.onExit === 'stop'
      await system.ask(ref<MachinesProtocol>(transport.hostId, '/agent/machines'), { type: 'machines.shutdown', stopVms }, { timeoutMs: 30_000 })
        .catch((err: unknown) => { logger.warn({ err }, 'machines shutdown failed') })
    }
    if (fatal === undefined && system.has('/agent/membership')) {
      await system.ask(ref<MembershipProtocol>(transport.hostId, '/agent/membership'), { type: 'membership.leave' }, { timeoutMs: 1_000 }).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 150))
    }
    await system.stop().catch((err: unknown) => { logger.warn({ err }, 'actor system stop failed') })
    await transport.stop().catch((err: unknown) => { logger.warn({ err }, 'transport stop failed') })
    machines?.store.close()
    await rm(infoFile, { force: true })
    state = 'stopped'
    logger.info('agent stopped')
    resolveStopped(fatal === undefined ? {} : { fatal })
  }

  system.onFatal((err) => {
    logger.fatal({ err }, 'agent tree failed beyond its restart policy')
    stop(err).catch(() => {})
  })

  return {
    hostId: transport.hostId,
    system,
    transport,
    socketPath,
    stopped,
    apiUrl: () => apiUrl,
    async start () {
      if (state !== 'new') return
      state = 'running'
      const startedAt = Date.now()
      machines = await setupMachines({ dataDir: init.dataDir, driver: init.driver ?? 'auto', region: init.region ?? 'local', netnsPrefix: transport.hostId.slice(0, 8), ...(init.imagesDir === undefined ? {} : { imagesDir: init.imagesDir }) }, { logger })
      logger.info({ driver: machines.init.defaultDriver, describe: machines.describe, drivers: Object.keys(machines.components.drivers) }, `machines use the ${machines.init.defaultDriver} driver`)
      const token = await loadApiToken(init.dataDir, init.apiToken ?? process.env.ROOST_API_TOKEN)
      await transport.start()
      await system.start()
      system.spawn(null, 'agent', agentActor({
        name: init.name,
        cluster: init.cluster,
        version: init.version,
        region: init.region ?? 'local',
        startedAt,
        dataDir: init.dataDir,
        ...(init.gossipProfile === undefined ? {} : { gossipProfile: init.gossipProfile }),
        faults: init.faults === true,
        wireguard: { cluster: init.cluster, dataDir: init.dataDir, mode: wireguard, underlayHost: init.host, ...(init.wireguardPort === undefined ? {} : { listenPort: init.wireguardPort }), ...(init.meshPort === undefined ? {} : { meshPort: init.meshPort }) }
      }, { transport, machines, mesh }))
      api = createMachinesApiServer({ host: init.apiHost ?? '127.0.0.1', port: init.apiPort ?? DEFAULT_API_PORT, token, version: init.version }, {
        logger: logger.child({ component: 'machines-api' }),
        backend: createMachinesBackend({ system, transport, name: init.name })
      })
      await api.start()
      const addr = api.address()
      apiUrl = `http://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`
      control = createControlServer({ socketPath }, {
        logger,
        codec,
        api: createControlApi({ system, transport, pathTo: transport.pathTo, name: init.name, shutdown: async () => { await stop() } })
      })
      await control.start()
      await writeFile(infoFile, JSON.stringify({
        hostId: transport.hostId, name: init.name, pid: process.pid, socket: socketPath, api: apiUrl, driver: machines.init.defaultDriver, addresses: transport.addresses(), startedAt,
        imagesDir: resolvePath(init.imagesDir ?? join(init.dataDir, 'images'))
      }, null, 2) + '\n')
      logger.info({ hostId: transport.hostId, name: init.name, cluster: init.cluster, socket: socketPath, api: apiUrl, driver: machines.init.defaultDriver, addresses: transport.addresses() }, 'agent started')
    },
    stop: async () => { await stop() }
  }
}
