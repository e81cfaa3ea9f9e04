import { mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises'
import { join, resolve as resolvePath } from 'node:path'
import { controlSocketPath } from '../../src/api/control-api.js'
import { createControlServer, type ControlServer } from '../../src/api/control-server.js'
import { resolveAgentOptions, type AgentOptions } from '../../src/cli/agent-options.js'
import { createCodec } from '../../src/codec/codec.js'
import { ConfigError } from '../../src/errors/errors.js'
import { createRowSigner } from '../../src/gossip/row-signature.js'
import type { Logger } from '../../src/log/logger.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { createLoopMonitor } from '../../src/runtime/loop-monitor.js'
import { createTransportThread } from '../../src/transport/transport-thread.js'
import { deriveClusterKeys } from '../../src/transport/cluster-keys.js'
import { createMeshPath } from '../../src/transport/mesh-path.js'
import { createMeshTransport, type MeshTransport } from '../../src/transport/mesh-transport.js'
import { requireWireguard, wireguardIfname, type WireguardAvailability } from '../wireguard/wireguard-actor.js'
import { startWireguardHeadStart, type WireguardHeadStart } from '../wireguard/head-start.js'
import { wireguardAvailable } from '../../src/mesh/wg-command.js'
import { loadOrCreateHostSeed } from '../../src/transport/host-key.js'
import { ref } from '../../src/runtime/ref.js'
import type { Transport } from '../../src/transport/transport.js'
import { MEMBERSHIP_PATH, type MembershipProtocol } from '../membership/messages.js'
import type { ApiExtension } from '../../src/api/machines/api-extension.js'
import { createMachinesApiServer, type MachinesApiServer } from '../../src/api/machines/http-server.js'
import { createMachinesBackend } from '../machines/backend.js'
import type { MachinesProtocol } from '../machines/messages.js'
import { agentActor } from './agent-actor.js'
import { createControlApi } from './control.js'
import { loadApiToken, setupMachines, type MachinesSetup } from './machines-setup.js'
import { systemClock } from '../../src/runtime/clock.js'
import { createMilestones, distinctCounter } from '../../src/log/milestones.js'
import { snapshotFromControl } from '../../src/status-page/snapshot.js'
import { createStatusPageExtension } from '../../src/status-page/status-extension.js'
import { createDataPlaneThread, type DataPlaneThread } from '../../src/proxy/data-plane-thread.js'
import { loadCa } from '../../src/proxy/tls/dev-ca.js'
import { AGENT_MALLOC_ENV, hasAgentMallocEnv } from '../../src/threads/malloc-env.js'
import { AGENT_NODE_OPTIONS, hasAgentNodeOptions } from '../../src/threads/agent-heap.js'
import { createAgentMetrics } from '../../src/metrics/agent-metrics.js'
import { setupAgentMetrics } from './metrics-setup.js'
import { createEventLog } from '../../src/events/event-log.js'
import { createEventsApi } from '../../src/events/events-api.js'

/** The agent's options (src/cli/agent-options.ts, shared with `roost agent start`); unset ones come from the environment and defaults. */
export type AgentHostInit = AgentOptions

export interface AgentHostComponents {
  logger: Logger
  /** Whether WireGuard can run here (default: root, wireguard-go and wg on PATH, /dev/net/tun). */
  wireguardAvailable?: WireguardAvailability
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

export async function createAgentHost (options: AgentHostInit, components: AgentHostComponents): Promise<AgentHost> {
  const milestones = createMilestones({ origin: performance.timeOrigin }, { clock: systemClock })
  milestones.reach('agent.init')
  const init = resolveAgentOptions(options)
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 })
  const seed = await loadOrCreateHostSeed(init.dataDir)
  const codec = createCodec()
  const logger = components.logger
  let fatalStop: (err: Error) => void = () => {}
  // Its own thread: handshakes, packets and decryption never hold the actor event loop.
  const stream = createTransportThread({
    cluster: init.cluster,
    secret: init.secret,
    seed,
    name: init.name,
    version: init.version,
    bootstrap: init.bootstrap,
    host: init.host,
    port: init.port,
    ...(init.maxFrameBytes === undefined ? {} : { maxFrameBytes: init.maxFrameBytes }),
    ...(init.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: init.idleTimeoutMs }),
    streamOnly: init.wireguard === 'off',
    priorityPaths: [MEMBERSHIP_PATH],
    logLevel: logger.level,
    logBase: { name: init.name, thread: 'transport' }
  }, { logger, milestones, onExit: (err) => { fatalStop(err) } })
  const streamPeer = distinctCounter(milestones, 'stream.peers')
  stream.on('connect', (peer) => { streamPeer(peer.hostId) })
  const wireguard = init.wireguard
  const mesh = wireguard === 'off'
    ? undefined
    : createMeshPath({ hostId: stream.hostId, keys: deriveClusterKeys(init.cluster, init.secret), port: init.meshPort, ...(init.maxFrameBytes === undefined ? {} : { maxFrameBytes: init.maxFrameBytes }) }, { logger, codec })
  const transport = createMeshTransport({}, { logger, stream, ...(mesh === undefined ? {} : { mesh }) })
  const meshPeer = distinctCounter(milestones, 'mesh.peers')
  mesh?.on('up', meshPeer)
  // Per agent, never prom-client's global registry: tests run several agents in one process.
  const metrics = createAgentMetrics()
  const system = createActorSystem({ hostId: transport.hostId }, { logger, codec, transport, actors: metrics.actors, messages: metrics.messages })
  const signer = createRowSigner(seed)
  if (signer.hostId !== transport.hostId) throw new ConfigError(`the host key signs as ${signer.hostId.slice(0, 12)} but the transport runs as ${transport.hostId.slice(0, 12)}`)
  const loopMonitor = createLoopMonitor()
  const events = createEventLog({ host: init.name, dir: join(init.dataDir, 'events') }, { logger: logger.child({ component: 'events' }), clock: systemClock })
  const socketPath = controlSocketPath(init.dataDir)
  const infoFile = join(init.dataDir, 'agent.json')
  let dataPlane: DataPlaneThread | undefined
  let control: ControlServer | undefined
  let api: MachinesApiServer | undefined
  let machines: MachinesSetup | undefined
  let headStart: WireguardHeadStart | undefined
  let apiUrl = ''
  const agentMetrics = setupAgentMetrics({ metrics, system, loopMonitor, machineStore: () => machines?.store, router: () => dataPlane })
  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  let resolveStopped: (v: { fatal?: Error }) => void = () => {}
  const stopped = new Promise<{ fatal?: Error }>(resolve => { resolveStopped = resolve })

  fatalStop = (err) => {
    logger.fatal({ err }, 'the transport thread died')
    stop(err).catch(() => {})
  }
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
    if (fatal === undefined && system.has(MEMBERSHIP_PATH)) {
      await system.ask(ref<MembershipProtocol>(transport.hostId, MEMBERSHIP_PATH), { type: 'membership.leave' }, { timeoutMs: 1_000 }).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, 150))
    }
    await system.stop().catch((err: unknown) => { logger.warn({ err }, 'actor system stop failed') })
    await headStart?.stop()
    await events.stop()
    await dataPlane?.stop().catch((err: unknown) => { logger.warn({ err }, 'data plane stop failed') })
    await transport.stop().catch((err: unknown) => { logger.warn({ err }, 'transport stop failed') })
    machines?.store.close()
    loopMonitor.stop()
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
      // A required mesh that cannot run is a configuration error: refuse to start, saying what is missing.
      if (wireguard === 'on') requireWireguard(components.wireguardAvailable)
      state = 'running'
      const startedAt = Date.now()
      // wireguard-go starts beside the transport and the data plane, not after them.
      if (mesh !== undefined && (components.wireguardAvailable ?? wireguardAvailable)().ok) {
        headStart = startWireguardHeadStart({ cluster: init.cluster, dataDir: init.dataDir, ifname: wireguardIfname(transport.hostId), faults: init.faults, ...(init.wireguardPort === undefined ? {} : { listenPort: init.wireguardPort }) }, { logger, milestones })
      }
      machines = await setupMachines({ dataDir: init.dataDir, driver: init.driver, region: init.region, netnsPrefix: transport.hostId.slice(0, 8), capacity: { cpus: init.capacityCpus, memoryMb: init.capacityMemoryMb }, faults: init.faults, ...(init.imagesDir === undefined ? {} : { imagesDir: init.imagesDir }) }, { logger, launches: agentMetrics.launches })
      logger.info({ driver: machines.init.defaultDriver, describe: machines.describe, drivers: Object.keys(machines.components.drivers) }, `machines use the ${machines.init.defaultDriver} driver`)
      const token = await loadApiToken(init.dataDir, init.apiToken)
      await events.start()
      await transport.start()
      milestones.reach('transport.started')
      await system.start()
      const keys = deriveClusterKeys(init.cluster, init.secret)
      const ca = await loadCa(init.caDir ?? join(init.dataDir, 'ca'))
      if (init.acmeCaFile !== undefined) await (await import('../../src/acme/acme-order.js')).trustAcmeCa(await readFile(init.acmeCaFile, 'utf8').catch((err: Error) => { throw new ConfigError(`--acme-ca-file ${init.acmeCaFile}: ${err.message}`) }))
      // ROOST_DATAPLANE_INLINE=1 (tests, diagnosis): the proxy shares the actors' event loop.
      if (init.dataPlaneInline) logger.warn('the data plane runs on the agent\'s event loop (ROOST_DATAPLANE_INLINE=1): proxy load delays gossip')
      // The inline data plane (and the whole proxy with it) is loaded only when asked for; the
      // router starts the thread once its routes have something to serve.
      dataPlane = (init.dataPlaneInline ? (await import('../../src/proxy/data-plane-inline.js')).createInlineDataPlane : createDataPlaneThread)({
        hostId: transport.hostId,
        region: init.region,
        domain: init.domain,
        proxyAddress: init.proxyAddress,
        backhaulKey: keys.backhaulKey,
        certKey: keys.certKey,
        ca,
        logLevel: logger.level,
        logBase: { name: init.name, actor: '/agent/router', thread: 'data-plane' }
      }, { logger })
      system.spawn(null, 'agent', agentActor({
        name: init.name,
        cluster: init.cluster,
        version: init.version,
        region: init.region,
        startedAt,
        dataDir: init.dataDir,
        gossipProfile: init.gossipProfile,
        faults: init.faults,
        wireguard: { cluster: init.cluster, dataDir: init.dataDir, mode: wireguard, underlayHost: init.host, faults: init.faults, ...(init.wireguardPort === undefined ? {} : { listenPort: init.wireguardPort }), meshPort: init.meshPort }
      }, {
        transport,
        signer,
        loopMonitor,
        events,
        machines,
        mesh,
        milestones,
        ...(headStart === undefined ? {} : { wireguardHeadStart: headStart }),
        router: {
          init: { region: init.region, domain: init.domain, wireguard, hostAddress: init.host, backhaulPort: init.backhaulPort, autostopIntervalMs: init.autostopInterval * 1000, acmeHttpPort: init.acmeHttpPort },
          components: { dataPlane, ca, certKey: keys.certKey }
        },
        acme: {
          init: { directory: init.acmeDirectory, email: init.acmeEmail ?? null, proxyAddress: init.proxyAddress, httpPort: init.acmeHttpPort, renewCheckMs: init.acmeRenewCheck * 1000 },
          components: { certKey: keys.certKey }
        }
      }))
      milestones.reach('actors.spawned')
      const controlApi = createControlApi({ system, transport, pathTo: transport.pathTo, name: init.name, milestones, shutdown: async () => { await stop() } })
      const apiExtensions: ApiExtension[] = [
        createEventsApi({}, { events, logger, clock: systemClock }),
        agentMetrics.endpoint({ public: init.metricsPublic }),
        createStatusPageExtension({}, { snapshot: snapshotFromControl(controlApi), clock: systemClock, logger: logger.child({ component: 'status-page' }) })
      ]
      api = createMachinesApiServer({ host: init.api.host, port: init.api.port, token, version: init.version }, {
        logger: logger.child({ component: 'machines-api' }),
        extensions: apiExtensions,
        backend: createMachinesBackend({ system, transport, name: init.name })
      })
      await api.start()
      const addr = api.address()
      apiUrl = `http://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`
      control = createControlServer({ socketPath }, {
        logger,
        codec,
        api: controlApi
      })
      await control.start()
      milestones.reach('agent.control')
      // Written aside and renamed: the CLI reads this file and must never see it half written.
      await writeFile(`${infoFile}.tmp`, JSON.stringify({
        hostId: transport.hostId, name: init.name, pid: process.pid, socket: socketPath, api: apiUrl, driver: machines.init.defaultDriver, addresses: transport.addresses(), startedAt,
        imagesDir: resolvePath(init.imagesDir ?? join(init.dataDir, 'images')), proxyAddress: init.proxyAddress, domain: init.domain
      }, null, 2) + '\n')
      await rename(`${infoFile}.tmp`, infoFile)
      logger.info({ hostId: transport.hostId, name: init.name, cluster: init.cluster, socket: socketPath, api: apiUrl, driver: machines.init.defaultDriver, addresses: transport.addresses() }, 'agent started')
      if (!hasAgentNodeOptions()) logger.info({ recommended: AGENT_NODE_OPTIONS.join(' ') }, 'started without the recommended Node.js options: the main thread\'s young generation may stay large at idle, and its collector may wait for helper threads crowding the cores (the local cluster, the lab and the systemd unit set them in NODE_OPTIONS)')
      if (!hasAgentMallocEnv()) logger.info({ recommended: AGENT_MALLOC_ENV }, 'started without the recommended malloc setting: large transient buffers may keep memory fragmented (the local cluster, the lab and the systemd unit set it)')
    },
    stop: async () => { await stop() }
  }
}
