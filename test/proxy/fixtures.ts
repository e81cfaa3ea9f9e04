import type { AppRoute, HostRoute, MachineRoute, RouteTable, ServiceRoute } from '../../src/proxy/route-table.js'

export const SELF = 'a'.repeat(64)
export const H2 = 'b'.repeat(64)
export const H3 = 'c'.repeat(64)

let n = 0
/** A machine route with sensible defaults (started, healthy, local). */
export function machine (over: Partial<MachineRoute> = {}): MachineRoute {
  n++
  return {
    id: over.id ?? n.toString(16).padStart(14, '0'),
    app: 'web',
    host: SELF,
    region: 'ams',
    local: true,
    state: 'started',
    health: 'passing',
    cordoned: false,
    instanceId: 'i1',
    endpoint: { host: '127.0.0.1', port: 1 },
    guestPort: 8080,
    namespaced: false,
    remoteInflight: 0,
    ...over
  }
}

export function service (over: Partial<ServiceRoute> = {}): ServiceRoute {
  return {
    index: 0,
    internalPort: 8080,
    ports: [{ port: 80, tls: false, http: true, proxyProto: 0, forceHttps: false, alpn: ['http/1.1'] }],
    concurrency: { type: 'requests', softLimit: 2, hardLimit: 4 },
    autoStart: true,
    autoStop: 'off',
    minMachinesRunning: 0,
    ...over
  }
}

export function host (id: string, over: Partial<HostRoute> = {}): HostRoute {
  return { id, name: id.slice(0, 2), region: 'ams', state: 'alive', rttMs: 1, backhaul: { address: '127.0.0.1', port: 4282 }, ...over }
}

export function table (apps: AppRoute[], hosts: HostRoute[] = [host(H2), host(H3)]): RouteTable {
  return {
    version: 1,
    hostId: SELF,
    region: 'ams',
    domain: 'roost.test',
    apps: Object.fromEntries(apps.map(a => [a.app, a])),
    hosts: Object.fromEntries(hosts.map(h => [h.id, h])),
    listeners: [],
    certs: [],
    rejected: [],
    acmeChallenges: {}
  }
}

export function app (machines: MachineRoute[], svc: ServiceRoute = service(), name = 'web'): AppRoute {
  return { app: name, hostnames: [`${name}.roost.test`], primaryRegion: null, services: [svc], machines }
}
