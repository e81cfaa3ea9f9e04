import type { ControlApi, MemberView, RowView } from '../api/control-api.js'
import type { RoutesView } from '../proxy/data-plane-view.js'

/** One machine on the status page, from its `machines` row. */
export interface StatusMachine {
  id: string
  name: string
  app: string
  state: string
  health: string
  region: string
  cordoned: boolean
  /** Its host is declared dead here: the row is what the host last said. */
  stale: boolean
}

/** One host on the status page: membership as this host sees it, plus the machines it runs. */
export interface StatusHost {
  hostId: string
  name: string
  region: string
  /** alive, suspect, dead, left, or unknown (machines name it but membership does not). */
  state: string
  self: boolean
  rttMs: number | null
  /** How messages to it travel: wireguard, hyperswarm, or self. */
  path: string
  version: string
  changedAt: number
  draining: boolean
  machines: StatusMachine[]
}

/** One public port of an app. */
export interface StatusRoute {
  port: number
  internalPort: number
  handlers: string[]
  forceHttps: boolean
}

/** One app: its routes (services row) and what this host's router answered for it. */
export interface StatusApp {
  app: string
  hostnames: string[]
  routes: StatusRoute[]
  machines: number
  /** Requests (and TCP connections) this host's router answered for the app since it started. */
  requests: number
  /** Of those, answered 5xx or with a router error (PRxx). */
  errors: number
}

/** What `GET /v1/status` answers: the cluster as this host's replica sees it. */
export interface StatusSnapshot {
  /** ms since epoch when it was taken. */
  at: number
  self: { hostId: string, name: string, region: string }
  hosts: StatusHost[]
  apps: StatusApp[]
}

/** What a snapshot is made of. */
export interface StatusInputs {
  members: MemberView[]
  hosts: RowView[]
  machines: RowView[]
  services: RowView[]
  /** The local router's view; null while it cannot answer. */
  routes: RoutesView | null
}

const str = (v: unknown, fallback = ''): string => typeof v === 'string' ? v : fallback

function errorsOf (counters: Record<string, number>): number {
  let n = 0
  for (const [k, v] of Object.entries(counters)) if (k === '5xx' || k.startsWith('PR')) n += v
  return n
}

function routesOf (data: Record<string, unknown>): StatusRoute[] {
  const services = Array.isArray(data.services) ? data.services as Array<{ internalPort: number, ports: Array<{ port: number, handlers: string[], forceHttps: boolean }> }> : []
  return services.flatMap(s => s.ports.map(p => ({ port: p.port, internalPort: s.internalPort, handlers: [...p.handlers], forceHttps: p.forceHttps })))
    .sort((a, b) => a.port - b.port)
}

/** Puts the replica's tables, membership and the local router's counters together, sorted by name. */
export function buildSnapshot (inputs: StatusInputs, at: number): StatusSnapshot {
  const live = (rows: RowView[]): Array<RowView & { data: Record<string, unknown> }> =>
    rows.filter((r): r is RowView & { data: Record<string, unknown> } => !r.deleted && r.data !== null)
  const hostRows = new Map(live(inputs.hosts).map(r => [r.key, r.data]))
  const hosts = new Map<string, StatusHost>()
  for (const m of inputs.members) {
    hosts.set(m.hostId, {
      hostId: m.hostId, name: m.name, region: m.region, state: m.state, self: m.self, rttMs: m.self ? null : m.rttMs,
      path: m.path, version: m.version, changedAt: m.changedAt, draining: hostRows.get(m.hostId)?.draining === true, machines: []
    })
  }
  const perApp = new Map<string, number>()
  for (const r of live(inputs.machines)) {
    const d = r.data
    const hostId = str(d.host)
    let host = hosts.get(hostId)
    if (host === undefined) {
      const row = hostRows.get(hostId)
      host = { hostId, name: str(row?.name), region: str(row?.region), state: 'unknown', self: false, rttMs: null, path: '-', version: str(row?.version), changedAt: 0, draining: false, machines: [] }
      hosts.set(hostId, host)
    }
    const app = str(d.app)
    host.machines.push({ id: str(d.id, r.key), name: str(d.name), app, state: str(d.state), health: str(d.health), region: str(d.region, host.region), cordoned: d.cordoned === true, stale: r.ownerDead })
    perApp.set(app, (perApp.get(app) ?? 0) + 1)
  }
  for (const h of hosts.values()) h.machines.sort((a, b) => a.app.localeCompare(b.app) || a.id.localeCompare(b.id))

  const routed = new Map((inputs.routes?.apps ?? []).map(a => [a.app, a]))
  const apps = new Map<string, StatusApp>()
  for (const r of live(inputs.services)) {
    const app = str(r.data.app, r.key)
    const view = routed.get(app)
    const counters = view?.counters ?? {}
    apps.set(app, {
      app,
      hostnames: view?.hostnames ?? (Array.isArray(r.data.hostnames) ? r.data.hostnames as string[] : []),
      routes: routesOf(r.data),
      machines: perApp.get(app) ?? 0,
      requests: Object.values(counters).reduce((a, b) => a + b, 0),
      errors: errorsOf(counters)
    })
  }
  for (const [app, n] of perApp) {
    if (!apps.has(app)) apps.set(app, { app, hostnames: [], routes: [], machines: n, requests: 0, errors: 0 })
  }

  const self = inputs.members.find(m => m.self)
  return {
    at,
    self: { hostId: self?.hostId ?? '', name: self?.name ?? '', region: self?.region ?? '' },
    // By name, not state: a row that changes colour stays where the eye left it.
    hosts: [...hosts.values()].sort((a, b) => a.name.localeCompare(b.name) || a.hostId.localeCompare(b.hostId)),
    apps: [...apps.values()].sort((a, b) => a.app.localeCompare(b.app))
  }
}

/**
 * The snapshot without what moves on its own (time, RTT, request counts): two snapshots with the
 * same key differ only in figures, not in what the replica says.
 */
export function snapshotKey (s: StatusSnapshot): string {
  return JSON.stringify({
    hosts: s.hosts.map(h => ({ ...h, rttMs: null })),
    apps: s.apps.map(a => ({ ...a, requests: 0, errors: 0 }))
  })
}

/** Takes a snapshot through the local agent's control API (what `roost members`/`state`/`routes` read). */
export function snapshotFromControl (api: Pick<ControlApi, 'members' | 'state' | 'send'>, now: () => number = Date.now): () => Promise<StatusSnapshot> {
  return async () => {
    const [members, hosts, machines, services, routes] = await Promise.all([
      api.members(),
      api.state('hosts'),
      api.state('machines'),
      api.state('services'),
      api.send('local/agent/router', { type: 'router.routes' }, { timeoutMs: 2_000 }).then(r => r.reply as RoutesView, () => null)
    ])
    return buildSnapshot({ members, hosts, machines, services, routes }, now())
  }
}
