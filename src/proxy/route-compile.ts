import { TypeCompiler } from '@sinclair/typebox/compiler'
import { RouterRowSchema, ServiceRowSchema, type RouterRowData, type ServiceRowData } from '../gossip/rows.js'
import { pendingChallenges } from '../acme/acme-rows.js'
import { servingMachineRows } from '../placement/machine-rows.js'
import type { AppRoute, CertRowLike, HostRoute, ListenerRoute, MachineRoute, RejectedRow, RouteTable, ServiceRoute } from './route-table.js'

/** A replicated row as the compiler reads it. */
export interface RowInput {
  key: string
  owner: string
  data: Record<string, unknown> | null
  deleted: boolean
  ownerDead: boolean
}

/** A member as gossip sees it. */
export interface MemberInput {
  hostId: string
  name: string
  region: string
  state: string
  rttMs: number | null
}

export interface CompileInput {
  version: number
  hostId: string
  region: string
  domain: string
  services: RowInput[]
  machines: RowInput[]
  routers: RowInput[]
  certs: RowInput[]
  /** `acme` rows: pending challenges (and accounts, which only say the cluster uses ACME). */
  acme?: RowInput[]
  /** Where HTTP-01 validation connects (`--acme-http-port`); 0: no listener is opened for it. */
  acmeHttpPort?: number
  /** Wall clock (ms) for challenge expiry. */
  now?: number
  members: MemberInput[]
}

const serviceCheck = TypeCompiler.Compile(ServiceRowSchema)
const routerCheck = TypeCompiler.Compile(RouterRowSchema)

function reasonOf (check: typeof serviceCheck | typeof routerCheck, data: unknown): string {
  const first = check.Errors(data).First()
  return first === undefined ? 'invalid' : `at '${first.path || '/'}': ${first.message}`
}

/** Since when an app holds what it claims: the earlier app keeps a contested port or hostname. */
function since (data: Record<string, unknown>): number {
  const d = data as { createdAt?: unknown, updatedAt?: unknown }
  return Number(d.createdAt ?? d.updatedAt ?? 0)
}

function serviceRoutes (row: ServiceRowData): ServiceRoute[] {
  return row.services.map((s, index) => ({
    index,
    internalPort: s.internalPort,
    ports: s.ports.map(p => ({
      port: p.port,
      tls: p.handlers.includes('tls'),
      http: p.handlers.includes('http'),
      proxyProto: p.handlers.includes('proxy_proto') ? p.proxyProtoVersion : 0,
      forceHttps: p.forceHttps,
      alpn: p.alpn ?? (p.handlers.includes('http') ? ['http/1.1'] : [])
    })),
    concurrency: { ...s.concurrency },
    autoStart: s.autoStartMachines,
    autoStop: s.autoStopMachines,
    minMachinesRunning: s.minMachinesRunning
  }))
}

function machineRoute (data: Record<string, unknown>, hostId: string): MachineRoute | string {
  const str = (k: string): string | undefined => typeof data[k] === 'string' ? data[k] as string : undefined
  const id = str('id')
  const app = str('app')
  const host = str('host')
  const state = str('state')
  if (id === undefined || app === undefined || host === undefined || state === undefined) return 'missing id, app, host or state'
  const ep = data.endpoint as { host?: unknown, port?: unknown } | null | undefined
  const endpoint = ep !== null && ep !== undefined && typeof ep.host === 'string' && typeof ep.port === 'number' && Number.isInteger(ep.port)
    ? { host: ep.host, port: ep.port }
    : null
  const services = Array.isArray(data.services) ? data.services as Array<{ internal_port?: unknown }> : []
  const guestPort = typeof services[0]?.internal_port === 'number' ? services[0].internal_port : 8080
  return {
    id,
    app,
    host,
    region: str('region') ?? '',
    local: host === hostId,
    state,
    health: str('health') ?? 'none',
    cordoned: data.cordoned === true,
    instanceId: str('instanceId') ?? '',
    endpoint,
    guestPort,
    namespaced: data.network === 'namespace',
    remoteInflight: 0
  }
}

/**
 * Which apps listen on which public port. Apps may share a port when all of them terminate TLS
 * there (told apart by SNI) or all speak plain HTTP there (told apart by Host); otherwise the
 * app deployed first keeps the port and the later one's port is refused.
 */
function assignPorts (apps: AppRoute[], heldSince: Map<string, number>, rejected: RejectedRow[]): ListenerRoute[] {
  const byPort = new Map<number, ListenerRoute>()
  const order = [...apps].sort((a, b) => (heldSince.get(a.app) ?? 0) - (heldSince.get(b.app) ?? 0) || (a.app < b.app ? -1 : 1))
  for (const app of order) {
    for (const svc of app.services) {
      for (const p of svc.ports) {
        const existing = byPort.get(p.port)
        if (existing === undefined) {
          byPort.set(p.port, { port: p.port, tls: p.tls, http: !p.tls && p.http, apps: [{ app: app.app, service: svc.index }] })
          continue
        }
        if (existing.apps.some(a => a.app === app.app)) {
          rejected.push({ table: 'services', key: app.app, reason: `port ${p.port} is published twice by the app; the second is ignored` })
          continue
        }
        const shareable = (existing.tls && p.tls) || (!existing.tls && existing.http && !p.tls && p.http)
        if (!shareable) {
          rejected.push({ table: 'services', key: app.app, reason: `port ${p.port} is taken by app '${existing.apps[0]?.app ?? '?'}' and cannot be shared (apps share a port only when all use tls, or all plain http)` })
          continue
        }
        existing.apps.push({ app: app.app, service: svc.index })
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port)
}

/**
 * Builds the data plane's route table from the local replica. Never throws: a row that does
 * not fit (schema, or a conflict with what other rows claim) is left out and listed in
 * `rejected` with its reason, and everything else is routed as usual.
 */
export function compileRoutes (input: CompileInput): RouteTable {
  const rejected: RejectedRow[] = []
  const members = new Map(input.members.map(m => [m.hostId, m]))
  const hosts: Record<string, HostRoute> = {}
  for (const m of input.members) {
    if (m.hostId === input.hostId) continue
    hosts[m.hostId] = { id: m.hostId, name: m.name, region: m.region, state: m.state, rttMs: m.rttMs, backhaul: null }
  }
  const remoteLoad = new Map<string, number>()
  for (const row of input.routers) {
    if (row.deleted || row.data === null) continue
    if (!routerCheck.Check(row.data) || row.key !== row.owner) {
      rejected.push({ table: 'routers', key: row.key, reason: row.key !== row.owner ? 'row not owned by its host' : reasonOf(routerCheck, row.data) })
      continue
    }
    const data: RouterRowData = row.data
    const host = hosts[row.owner]
    if (host !== undefined && data.backhaul !== null) host.backhaul = { address: data.backhaul.address, port: data.backhaul.port }
    if (row.owner === input.hostId || row.ownerDead) continue
    for (const [id, n] of Object.entries(data.loads)) remoteLoad.set(id, (remoteLoad.get(id) ?? 0) + n)
  }

  const apps: Record<string, AppRoute> = {}
  const heldSince = new Map<string, number>()
  const hostnameOwner = new Map<string, string>()
  const services = input.services.filter(r => !r.deleted && r.data !== null)
    .sort((a, b) => since(a.data as Record<string, unknown>) - since(b.data as Record<string, unknown>))
  for (const row of services) {
    if (!serviceCheck.Check(row.data)) {
      rejected.push({ table: 'services', key: row.key, reason: reasonOf(serviceCheck, row.data) })
      continue
    }
    const data: ServiceRowData = row.data
    if (data.app !== row.key) {
      rejected.push({ table: 'services', key: row.key, reason: `row key '${row.key}' is not its app '${data.app}'` })
      continue
    }
    const own = `${data.app}.${input.domain}`.toLowerCase()
    const names = [own]
    for (const h of data.hostnames) {
      const name = h.toLowerCase()
      const taken = hostnameOwner.get(name)
      if (taken !== undefined && taken !== data.app) {
        rejected.push({ table: 'services', key: row.key, reason: `hostname ${name} already belongs to app '${taken}'` })
        continue
      }
      if (!names.includes(name)) names.push(name)
    }
    for (const n of names) hostnameOwner.set(n, data.app)
    apps[data.app] = { app: data.app, hostnames: names, primaryRegion: data.primaryRegion, services: serviceRoutes(data), machines: [] }
    heldSince.set(data.app, since(data))
  }

  for (const row of servingMachineRows(input.machines)) {
    if (row.data === null) continue
    const m = machineRoute(row.data, input.hostId)
    if (typeof m === 'string') {
      rejected.push({ table: 'machines', key: row.key, reason: m })
      continue
    }
    if (m.host !== row.owner) {
      rejected.push({ table: 'machines', key: row.key, reason: 'machine row not written by its host' })
      continue
    }
    if (row.ownerDead) m.state = m.state === 'started' ? 'unreachable' : m.state
    const member = members.get(m.host)
    if (member === undefined && !m.local) continue
    m.remoteInflight = remoteLoad.get(m.id) ?? 0
    apps[m.app]?.machines.push(m)
  }
  for (const a of Object.values(apps)) a.machines.sort((x, y) => x.id < y.id ? -1 : 1)

  const certs: CertRowLike[] = []
  for (const row of input.certs) {
    if (row.deleted || row.data === null) continue
    const d = row.data as Partial<CertRowLike>
    if (typeof d.hostname !== 'string' || typeof d.certPem !== 'string' || typeof d.keySealed !== 'string' || typeof d.notAfter !== 'number') {
      rejected.push({ table: 'certs', key: row.key, reason: 'not a certificate row' })
      continue
    }
    certs.push({ hostname: d.hostname, app: typeof d.app === 'string' ? d.app : null, certPem: d.certPem, keySealed: d.keySealed, notAfter: d.notAfter, source: typeof d.source === 'string' ? d.source : 'user' })
  }

  const listeners = assignPorts(Object.values(apps), heldSince, rejected)
  const acmeRows = (input.acme ?? []).filter(r => !r.deleted && r.data !== null)
  const acmeChallenges = pendingChallenges(acmeRows, input.now ?? Date.now())
  if (acmeRows.length > 0 && (input.acmeHttpPort ?? 0) > 0) acmeListener(listeners, input.acmeHttpPort as number, rejected)
  return { version: input.version, hostId: input.hostId, region: input.region, domain: input.domain, apps, hosts, listeners, certs, rejected, acmeChallenges }
}

/**
 * Once the cluster uses ACME (any `acme` row), every router listens for plain HTTP on the ACME
 * port, since the names it validates may resolve to any host. An app's plain-HTTP port there
 * is shared (challenges are answered first); an app's TLS or TCP port there leaves HTTP-01
 * unanswerable on this port, which is reported rather than taken from the app.
 */
function acmeListener (listeners: ListenerRoute[], port: number, rejected: RejectedRow[]): void {
  const existing = listeners.find(l => l.port === port)
  if (existing === undefined) {
    listeners.push({ port, tls: false, http: true, apps: [] })
    listeners.sort((a, b) => a.port - b.port)
    return
  }
  if (existing.tls || !existing.http) rejected.push({ table: 'acme', key: `port ${port}`, reason: `app '${existing.apps[0]?.app ?? '?'}' holds port ${port} without plain http: ACME http-01 challenges cannot be answered there` })
}
