import type { ApiExtension } from '../../src/api/machines/api-extension.js'
import type { AgentMetrics } from '../../src/metrics/agent-metrics.js'
import { registerGossipMetrics, type GossipFigures } from '../../src/metrics/gossip-metrics.js'
import { registerLoopMetrics } from '../../src/metrics/loop-metrics.js'
import { registerMachineMetrics, type LaunchRecorder } from '../../src/metrics/machine-metrics.js'
import { metricsEndpoint } from '../../src/metrics/metrics-endpoint.js'
import { idleRouterMetrics, registerRouterMetrics, type RouterMetricsSource } from '../../src/metrics/router-metrics.js'
import { registerWireguardMetrics } from '../../src/metrics/wireguard-metrics.js'
import type { LoopMonitor } from '../../src/runtime/loop-monitor.js'
import { ref } from '../../src/runtime/ref.js'
import type { ActorSystem } from '../../src/runtime/system.js'
import type { MachineStore } from '../../src/vmm/machine-store.js'
import type { MembershipProtocol } from '../membership/messages.js'
import type { WireguardProtocol } from '../wireguard/messages.js'

/** Actors asked on scrape answer within this, or their metrics are left out of that scrape. */
const SCRAPE_ASK_MS = 2_000

export interface AgentMetricsSetupComponents {
  metrics: AgentMetrics
  system: ActorSystem
  loopMonitor: LoopMonitor
  /** The machine store, once the machines family is set up. */
  machineStore: () => MachineStore | undefined
  /** The data plane, once created (the router starts its thread when it first has something to serve). */
  router: () => (RouterMetricsSource & { running: () => boolean }) | undefined
}

/** The metrics a host serves beyond the actor system's: the sources are asked on scrape. */
export interface AgentMetricsSetup {
  /** For the machines family (created before it). */
  launches: LaunchRecorder
  /** `/metrics` on the API listener. */
  endpoint: (init: { public: boolean }) => ApiExtension
}

export function setupAgentMetrics (components: AgentMetricsSetupComponents): AgentMetricsSetup {
  const { metrics, system } = components
  const registry = metrics.registry
  metrics.actors.setSource(system)
  const launches = registerMachineMetrics(registry, {
    list: () => (components.machineStore()?.list() ?? []).map(m => ({ state: String(m.record.state), driver: String(m.record.driver) }))
  })
  registerRouterMetrics(registry, metrics.scrapes, {
    metrics: async () => {
      const r = components.router()
      // Before the router had anything to serve there is no data plane: it answered nothing yet.
      if (r === undefined || !r.running()) return idleRouterMetrics()
      return await r.metrics()
    }
  })
  registerGossipMetrics(registry, metrics.scrapes, async () => await system.ask(ref<MembershipProtocol>(system.hostId, '/agent/membership'), { type: 'membership.metrics' }, { timeoutMs: SCRAPE_ASK_MS }) as GossipFigures)
  registerWireguardMetrics(registry, metrics.scrapes, async () => {
    const status = await system.ask(ref<WireguardProtocol>(system.hostId, '/agent/wireguard'), { type: 'wireguard.status' }, { timeoutMs: SCRAPE_ASK_MS })
    return status.mode === 'wireguard' ? status.peers : []
  })
  registerLoopMetrics(registry, components.loopMonitor)
  return {
    launches,
    endpoint: (init) => metricsEndpoint(init, { metrics })
  }
}
