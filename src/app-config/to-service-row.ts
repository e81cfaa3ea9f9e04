import type { ServiceRowData } from '../gossip/rows.js'
import type { AppSpec } from './app-spec.js'

/**
 * The `services` row of an app (src/gossip/rows.ts ServiceRowSchema): what every host's router
 * needs to route to it. Copies everything, so the row shares nothing with `spec`.
 */
export function toServiceRow (spec: AppSpec, deployVersion: number, updatedAt = Date.now()): ServiceRowData {
  return {
    app: spec.app,
    deployVersion,
    primaryRegion: spec.primaryRegion,
    hostnames: [...spec.hostnames],
    services: spec.services.map(s => ({
      protocol: s.protocol,
      internalPort: s.internalPort,
      ports: s.ports.map(p => ({
        port: p.port,
        handlers: [...p.handlers],
        forceHttps: p.forceHttps,
        proxyProtoVersion: p.proxyProtoVersion,
        ...(p.alpn === undefined ? {} : { alpn: [...p.alpn] })
      })),
      concurrency: { ...s.concurrency },
      autoStopMachines: s.autoStopMachines,
      autoStartMachines: s.autoStartMachines,
      minMachinesRunning: s.minMachinesRunning
    })),
    updatedAt
  }
}
