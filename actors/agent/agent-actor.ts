import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import type { LoopMonitor } from '../../src/runtime/loop-monitor.js'
import type { Milestones } from '../../src/log/milestones.js'
import type { EventLog } from '../../src/events/event-log.js'
import { policies } from '../../src/runtime/policy.js'
import type { RowSigner } from '../../src/gossip/row-signature.js'
import { resolveProfile, type ProfileName } from '../../src/gossip/swim-config.js'
import type { Transport } from '../../src/transport/transport.js'
import type { MeshPath } from '../../src/transport/mesh-path.js'
import type { MeshTransport } from '../../src/transport/mesh-transport.js'
import type { MachineComponents } from '../machines/components.js'
import { machinesActor, type MachinesActorInit } from '../machines/machines-actor.js'
import { createCapacityLedger } from '../../src/placement/capacity.js'
import { createMemoryMachineStore } from '../../src/vmm/machine-store.js'
import { failoverActor } from '../placement/failover-actor.js'
import { placementActor } from '../placement/placement-actor.js'
import { membershipActor } from '../membership/membership-actor.js'
import { acmeActor, type AcmeActorComponents, type AcmeActorInit } from '../acme/acme-actor.js'
import { routerActor, type RouterActorComponents, type RouterActorInit } from '../router/router-actor.js'
import { wireguardActor, type MeshRouting, type WireguardActorInit } from '../wireguard/wireguard-actor.js'
import type { WireguardHeadStart } from '../wireguard/head-start.js'
import { MAX_EVENT_REPLY_BYTES, MAX_EVENTS_PER_REPLY, agentProtocol, type AgentProtocol } from './messages.js'

export interface AgentActorInit {
  name: string
  cluster: string
  version: string
  region: string
  startedAt: number
  dataDir?: string
  gossipProfile?: ProfileName
  faults?: boolean
  /** The mesh end of this host (default: off, streams only). */
  wireguard?: WireguardActorInit
}

export interface AgentActorComponents {
  transport: Transport
  /** This host's key: signs the replicated rows it writes. */
  signer: RowSigner
  /** This process's event-loop delay (outlives restarts of the tree). */
  loopMonitor: LoopMonitor
  /** This host's event stream: the families record into it, `agent.events` reads it. */
  events: Pick<EventLog, 'record' | 'since'>
  /** The machines family's settings and parts (drivers, images, store); without them it runs with no driver and an in-memory store. */
  machines?: { init: MachinesActorInit, components: Omit<MachineComponents, 'events'> }
  /** Connections through the tunnels, started by the wireguard actor once its interface is up. */
  mesh?: MeshPath
  /** Where the families record their start milestones (the tunnels' first peers and handshakes). */
  milestones: Pick<Milestones, 'reach'>
  /** wireguard-go started before the tree (see head-start.ts); the wireguard actor's first boot adopts it. */
  wireguardHeadStart?: Pick<WireguardHeadStart, 'take'>
  /** The proxy: its settings and data plane; without it the host routes nothing (unit tests of other families). */
  router?: { init: RouterActorInit, components: Omit<RouterActorComponents, 'events'> }
  /** Certificates by ACME (needs the router: its listeners answer the challenges). */
  acme?: { init: AcmeActorInit, components: Omit<AcmeActorComponents, 'events'> }
}

/** Routing for a transport without a mesh path (tests with the in-memory transport). */
const streamsOnly: MeshRouting = {
  pathTo: () => 'hyperswarm',
  setRoutes: () => {},
  stats: () => ({ framesOut: { wireguard: 0, hyperswarm: 0 }, framesIn: { wireguard: 0, hyperswarm: 0 }, switches: 0, resent: 0, session: { unackedBytes: 0, reorderBytes: 0, unackedRefusals: 0, reorderOverflows: 0 } })
}

/**
 * The root of a host's supervisor tree. Its children are the actor families; a child that
 * exhausts its own restarts escalates here, and this actor restarts the whole tree. Past its
 * own limit the failure is fatal: the process exits and its service manager restarts it.
 */
export function agentActor (init: AgentActorInit, components: AgentActorComponents): ActorDefinition<AgentProtocol> {
  return defineActor({
    protocol: agentProtocol,
    policy: policies.restart({ backoff: { initialMs: 100, maxMs: 5_000, factor: 2 }, maxRestarts: 5, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const { events } = components
      const machines = components.machines ?? {
        init: { machinesDir: '/nonexistent', region: init.region, defaultDriver: 'process' as const },
        components: {
          drivers: {},
          store: createMemoryMachineStore(),
          images: { resolve: async () => { throw new Error('no image store') } },
          ports: async () => { throw new Error('no port allocator') },
          capacity: createCapacityLedger({ cpus: 0, memoryMb: 0 })
        }
      }
      ctx.spawn('membership', membershipActor({
        name: init.name,
        version: init.version,
        region: init.region,
        ...(init.dataDir === undefined ? {} : { dataDir: init.dataDir }),
        ...(init.gossipProfile === undefined ? {} : { profile: init.gossipProfile }),
        faults: init.faults === true
      }, { ...components, capacity: machines.components.capacity }))
      ctx.spawn('machines', machinesActor(machines.init, { ...machines.components, events }))
      ctx.spawn('placement', placementActor({}, { events }))
      ctx.spawn('failover', failoverActor({ region: init.region, probeIntervalMs: resolveProfile(init.gossipProfile).probeIntervalMs }, { events }))
      if (components.router !== undefined) ctx.spawn('router', routerActor(components.router.init, { ...components.router.components, events }))
      if (components.acme !== undefined) ctx.spawn('acme', acmeActor(components.acme.init, { ...components.acme.components, events }))
      const meshTransport: MeshRouting = 'pathTo' in components.transport ? components.transport as MeshTransport : streamsOnly
      ctx.spawn('wireguard', wireguardActor(init.wireguard ?? { cluster: init.cluster, dataDir: init.dataDir ?? '/nonexistent', mode: 'off', underlayHost: '127.0.0.1' }, { transport: meshTransport, mesh: components.mesh, milestones: components.milestones, ...(components.wireguardHeadStart === undefined ? {} : { headStart: components.wireguardHeadStart }) }))
      return {
        handlers: {
          'agent.ping': (msg) => ({ host: ctx.system.hostId, seq: msg.seq, payload: msg.payload }),
          'agent.info': () => ({
            hostId: ctx.system.hostId,
            name: init.name,
            cluster: init.cluster,
            version: init.version,
            pid: process.pid,
            uptimeMs: Date.now() - init.startedAt,
            rssBytes: process.memoryUsage.rss(),
            addresses: components.transport.addresses(),
            transport: components.transport.kind,
            actors: ctx.system.actors(),
            stats: { ...ctx.system.stats }
          }),
          'agent.stats': (msg) => ({
            pid: process.pid,
            rssBytes: process.memoryUsage.rss(),
            heapUsedBytes: process.memoryUsage().heapUsed,
            eventLoop: components.loopMonitor.read(msg.reset === true),
            objectPrototypeKeys: Object.getOwnPropertyNames(Object.prototype).length,
            stats: { ...ctx.system.stats }
          }),
          'agent.events': (msg) => ({
            hostId: ctx.system.hostId,
            name: init.name,
            ...events.since(msg.since ?? 0, msg.limit ?? MAX_EVENTS_PER_REPLY, MAX_EVENT_REPLY_BYTES)
          })
        }
      }
    }
  })
}
