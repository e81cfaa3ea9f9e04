import { EventEmitter } from 'node:events'
import { performance } from 'node:perf_hooks'
import { createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { TLSSocket, type SecureContext } from 'node:tls'
import type { Codec } from '../codec/codec.js'
import type { Logger } from '../log/logger.js'
import { matchApp } from './app-match.js'
import { createBackhaulServer, type BackhaulServer } from './backhaul-server.js'
import { createRequestIds } from './forward-headers.js'
import { EdgeHttpConnection, type HttpEntry } from './http-edge.js'
import { HostedHttpConnection } from './http-hosted.js'
import { createLoadTracker, type LoadTracker } from './load-tracker.js'
import { createRouterErrors, type RouterErrorReport } from './router-errors.js'
import { DEFAULT_PROXY_LIMITS, type AutostartReason, type ProxyContext, type ProxyLimits } from './proxy-context.js'
import { emptyRouteTable, isRoutable, type ListenerRoute, type RouteTable } from './route-table.js'
import { TcpProxyConnection } from './tcp-proxy.js'
import type { CertStore } from './tls/cert-store.js'
import { createConnector } from './upstream.js'
import { createUpstreamPool } from './upstream-pool.js'
import { createWaiters } from './waiters.js'
import type { DataPlaneSnapshot, DataPlaneStats, ListenerState } from './data-plane-view.js'
import { createByteMeter } from './byte-meter.js'
import { createRouterCounters, type RouterMetricsSnapshot } from './router-counters.js'

export interface DataPlaneInit {
  hostId: string
  region: string
  domain: string
  /** Where public listeners bind (every app's ports). */
  proxyAddress: string
  backhaulKey: Buffer
  limits?: Partial<ProxyLimits>
}

export interface DataPlaneComponents {
  logger: Logger
  codec: Codec
  /** Certificates for TLS ports (by SNI). */
  certs: CertStore
  now?: () => number
}

export interface DataPlaneEvents {
  autostart: (req: { app: string, service: number, reason: AutostartReason }) => void
  listener: (state: ListenerState) => void
}

/**
 * The proxy: public listeners for every app port, the backhaul listener, and every proxied
 * connection. It runs on its own thread (see data-plane-thread.ts) and is fed route tables;
 * nothing in it waits on the agent's actors.
 */
export interface DataPlane {
  start: () => Promise<void>
  stop: () => Promise<void>
  setRoutes: (table: RouteTable) => void
  /** Starts (or moves) the backhaul listener; null stops it. */
  setBackhaul: (spec: { address: string, port: number, checkSource: boolean } | null) => Promise<{ address: string, port: number } | null>
  snapshot: () => DataPlaneSnapshot
  stats: () => DataPlaneStats
  /** Counters for metrics: answers by app, handler and result with latencies, connections, backhaul bytes. */
  metrics: () => RouterMetricsSnapshot
  /** Router errors due for the agent's event stream (see router-errors.ts); taken, so each is reported once. */
  takeRouterErrors: () => RouterErrorReport[]
  on: <E extends keyof DataPlaneEvents>(event: E, fn: DataPlaneEvents[E]) => void
}

interface Listening {
  entry: HttpEntry
  server: Server
  state: ListenerState
}

const SWEEP_MS = 500
/** How long a machine its host refused as full is ranked as full here before it is tried again. */
const SATURATED_MS = 250
const AUTOSTART_DEDUP_MS = 2_000

export function createDataPlane (init: DataPlaneInit, components: DataPlaneComponents): DataPlane {
  const log = components.logger
  const now = components.now ?? Date.now
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...init.limits }
  const events = new EventEmitter()
  const loads: LoadTracker = createLoadTracker()
  const routerErrors = createRouterErrors({ windowMs: limits.routerErrorWindowMs })
  const pool = createUpstreamPool({ maxIdlePerKey: limits.maxIdleUpstreamsPerMachine, idleTimeoutMs: limits.upstreamIdleTimeoutMs })
  const waiters = createWaiters()
  const autostartAsked = new Map<string, number>()
  const saturated = new Map<string, number>()
  const counters = createRouterCounters()
  const edgeBytes = createByteMeter()
  const hostedBytes = createByteMeter()
  const ctx: ProxyContext = {
    table: emptyRouteTable(init.hostId, init.region, init.domain),
    limits,
    loads,
    routerErrors,
    connector: createConnector({ hostId: init.hostId, backhaulKey: init.backhaulKey, connectTimeoutMs: limits.connectTimeoutMs }, { codec: components.codec, meter: edgeBytes }),
    pool,
    waiters,
    log,
    now,
    nextRequestId: createRequestIds(init.region),
    requestAutostart: (app, service, reason) => {
      const t = now()
      if ((autostartAsked.get(app) ?? 0) > t - AUTOSTART_DEDUP_MS) return
      autostartAsked.set(app, t)
      events.emit('autostart', { app, service, reason })
    },
    loadOf: (machine) => {
      const until = saturated.get(machine)
      if (until !== undefined) {
        if (until > now()) return Number.MAX_SAFE_INTEGER
        saturated.delete(machine)
      }
      return loads.inflight(machine)
    },
    saturate: (machine) => { saturated.set(machine, now() + SATURATED_MS) },
    answered: (app, handler, result, startedAt) => {
      loads.count(app, result)
      counters.answered(app, handler, result, (performance.now() - startedAt) / 1000)
    },
    counters,
    hostedRefusals: { count: 0 },
    tunnels: new Map(),
    connections: new Set()
  }
  loads.onRelease((machine) => {
    const app = findApp(machine)
    if (app !== undefined) waiters.wake(app)
  })
  const machineApp = new Map<string, string>()
  /** Remote machines whose host was not alive in the last table (their connections were told). */
  let lostBefore = new Set<string>()
  const findApp = (machine: string): string | undefined => machineApp.get(machine)
  const listeners = new Map<number, Listening>()
  const backhaul: BackhaulServer = createBackhaulServer({ backhaulKey: init.backhaulKey, connectTimeoutMs: limits.connectTimeoutMs }, {
    // An `http` backhaul: requests one at a time, each admitted here against the machine's hard limit.
    http: (socket, header, rest) => {
      if (rest.byteLength > 0) socket.unshift(rest)
      new HostedHttpConnection(ctx, socket, { app: header.app, machine: header.machine, port: header.port }) // eslint-disable-line no-new
      socket.resume()
    },
    codec: components.codec, logger: log, loads, table: () => ctx.table, now, meter: hostedBytes
  })
  let backhaulSpec: { address: string, port: number, checkSource: boolean } | null = null
  let sweeper: NodeJS.Timeout | undefined
  let running = false

  const onPlain = (entry: HttpEntry) => (socket: Socket): void => {
    socket.setNoDelay(true)
    counters.accepted(entry.listener.http ? 'http' : 'tcp')
    if (entry.listener.http) { new EdgeHttpConnection(ctx, socket, entry); return } // eslint-disable-line no-new
    const route = matchApp(ctx.table, entry.listener, null)
    if (route === undefined) { socket.destroy(); return }
    new TcpProxyConnection(ctx, socket, route) // eslint-disable-line no-new
  }

  const onSecure = (entry: HttpEntry) => (socket: TLSSocket): void => {
    const name = typeof socket.servername === 'string' ? socket.servername.toLowerCase() : null
    const route = matchApp(ctx.table, entry.listener, name)
    if (route === undefined) {
      ctx.answered('-', 'tls', 'PR02', performance.now())
      log.debug({ servername: name, port: entry.listener.port }, 'no app for this server name')
      socket.destroy()
      return
    }
    if (route.port.http) { new EdgeHttpConnection(ctx, socket, { ...entry, fixed: route }); return } // eslint-disable-line no-new
    new TcpProxyConnection(ctx, socket, route) // eslint-disable-line no-new
  }

  /**
   * TLS is terminated on sockets wrapped here rather than by a tls.Server, so a port with one
   * app can answer clients that send no server name with that app's certificate, and the
   * handshake is bounded in time like a request head (slowloris).
   */
  const onTls = (entry: HttpEntry) => (raw: Socket): void => {
    raw.setNoDelay(true)
    counters.accepted('tls')
    raw.on('error', () => { raw.destroy() })
    const timer = setTimeout(() => { raw.destroy() }, limits.headTimeoutMs)
    const wrap = (secureContext?: SecureContext): void => {
      if (raw.destroyed) { clearTimeout(timer); return }
      const s = new TLSSocket(raw, { isServer: true, ...components.certs.serverOptions(), ...(secureContext === undefined ? {} : { secureContext }) })
      s.once('secure', () => { clearTimeout(timer); onSecure(entry)(s) })
      s.on('error', (err: Error) => {
        clearTimeout(timer)
        if (s.listenerCount('error') === 1) log.debug({ err: err.message, port: entry.listener.port }, 'TLS handshake failed')
        s.destroy()
      })
    }
    const only = entry.listener.apps.length === 1 ? ctx.table.apps[entry.listener.apps[0]?.app ?? '']?.hostnames[0] : undefined
    if (only === undefined) { wrap(); return }
    components.certs.defaultContext(only).then(wrap, () => { wrap() })
  }

  const openListener = (route: ListenerRoute): void => {
    const entry: HttpEntry = { listener: route, tls: route.tls }
    const server = createTcpServer({ noDelay: true }, route.tls ? onTls(entry) : onPlain(entry))
    const state: ListenerState = { port: route.port, address: init.proxyAddress, tls: route.tls, http: route.http, apps: route.apps.map(a => a.app), state: 'opening', error: null }
    const l: Listening = { entry, server, state }
    listeners.set(route.port, l)
    server.on('error', (err: NodeJS.ErrnoException) => {
      state.state = 'failed'
      state.error = err.code ?? err.message
      log.error({ port: route.port, address: init.proxyAddress, err: err.message }, 'proxy listener failed')
      events.emit('listener', { ...state })
    })
    server.listen({ host: init.proxyAddress, port: route.port }, () => {
      state.state = 'listening'
      log.info({ port: route.port, address: init.proxyAddress, tls: route.tls, http: route.http, apps: state.apps }, 'proxy listening')
      events.emit('listener', { ...state })
    })
  }

  const closeListener = (port: number): void => {
    const l = listeners.get(port)
    if (l === undefined) return
    listeners.delete(port)
    l.server.close()
    log.info({ port }, 'proxy listener closed')
  }

  const reconcileListeners = (table: RouteTable): void => {
    const wanted = new Map(table.listeners.map(l => [l.port, l]))
    for (const [port, l] of listeners) {
      const w = wanted.get(port)
      if (w === undefined || w.tls !== l.entry.listener.tls || (l.state.state === 'failed')) closeListener(port)
    }
    for (const route of table.listeners) {
      const l = listeners.get(route.port)
      if (l === undefined) { openListener(route); continue }
      l.entry.listener = route
      l.state.apps = route.apps.map(a => a.app)
      l.state.http = route.http
    }
  }

  const closeGoneMachines = (table: RouteTable): void => {
    const routable = new Set<string>()
    const lost = new Set<string>()
    machineApp.clear()
    for (const app of Object.values(table.apps)) {
      for (const m of app.machines) {
        machineApp.set(m.id, app.app)
        const host = m.local ? undefined : table.hosts[m.host]
        if (isRoutable(m, host)) routable.add(m.id)
        if (!m.local && host?.state !== 'alive' && !lostBefore.has(m.id)) lost.add(m.id)
      }
    }
    lostBefore = new Set([...lostBefore, ...lost].filter(id => !routable.has(id) && machineApp.has(id)))
    // Only new losses: requests placed since the last table could not have chosen these machines.
    if (lost.size > 0) for (const c of [...ctx.connections]) c.hostLost(lost)
    loads.forget(new Set(machineApp.keys()))
    for (const [machine, set] of ctx.tunnels) {
      if (routable.has(machine)) continue
      for (const t of [...set]) t.closeTunnel('machine no longer takes traffic')
      ctx.tunnels.delete(machine)
      pool.dropMachine(machine)
    }
  }

  return {
    async start () {
      if (running) return
      running = true
      sweeper = setInterval(() => {
        const t = now()
        for (const c of [...ctx.connections]) c.sweep(t)
        waiters.sweep(t)
        // Requests waiting for an autostart ask again (rate-limited) until a machine can be woken.
        waiters.wakeAll()
        pool.sweep(t)
      }, SWEEP_MS)
      sweeper.unref()
    },
    async stop () {
      if (!running) return
      running = false
      clearInterval(sweeper)
      for (const port of [...listeners.keys()]) closeListener(port)
      for (const c of [...ctx.connections]) c.destroy()
      pool.close()
      await backhaul.close()
    },
    setRoutes (table) {
      ctx.table = table
      // An autostart is answered once a machine of the app runs: if it stops again, the next request asks anew at once.
      for (const app of [...autostartAsked.keys()]) if (table.apps[app]?.machines.some(m => m.state === 'started') !== false) autostartAsked.delete(app)
      components.certs.setRows(table.certs as never)
      const names = new Set<string>()
      for (const app of Object.values(table.apps)) for (const h of app.hostnames) names.add(h)
      components.certs.setRoutedNames((h) => names.has(h))
      if (running) reconcileListeners(table)
      closeGoneMachines(table)
      waiters.wakeAll()
    },
    async setBackhaul (spec) {
      if (spec === null) { await backhaul.close(); backhaulSpec = null; return null }
      if (backhaulSpec !== null && backhaulSpec.address === spec.address && backhaulSpec.port === spec.port && backhaulSpec.checkSource === spec.checkSource && backhaul.address() !== null) return backhaul.address()
      backhaulSpec = spec
      const bound = await backhaul.listen(spec.address, spec.port, spec.checkSource)
      log.info({ ...bound, checkSource: spec.checkSource }, 'backhaul listening')
      return bound
    },
    snapshot () {
      const table = ctx.table
      return {
        version: table.version,
        listeners: [...listeners.values()].map(l => ({ ...l.state })),
        apps: Object.values(table.apps).map(app => ({
          app: app.app,
          hostnames: app.hostnames,
          ports: app.services.flatMap(s => s.ports.map(p => ({ port: p.port, service: s.index, internalPort: s.internalPort, handlers: [...(p.tls ? ['tls'] : []), ...(p.http ? ['http'] : []), ...(p.proxyProto !== 0 ? [`proxy_proto v${p.proxyProto}`] : [])], forceHttps: p.forceHttps }))),
          concurrency: app.services[0]?.concurrency ?? null,
          machines: app.machines.map(m => ({
            id: m.id,
            host: m.host,
            hostName: m.local ? 'local' : table.hosts[m.host]?.name ?? m.host.slice(0, 12),
            region: m.region,
            state: m.state,
            health: m.health,
            cordoned: m.cordoned,
            local: m.local,
            routable: isRoutable(m, m.local ? undefined : table.hosts[m.host]),
            inflight: loads.inflight(m.id),
            remoteInflight: m.remoteInflight
          })),
          counters: { ...(loads.counters()[app.app] ?? {}) }
        })),
        rejected: table.rejected,
        backhaul: (({ refused, ...rest }) => ({ address: backhaul.address(), ...rest, refused: refused + ctx.hostedRefusals.count }))(backhaul.stats()),
        pool: { idle: pool.idle() },
        waiting: waiters.size(),
        connections: ctx.connections.size,
        loop: (({ active, idle }) => ({ activeMs: active, idleMs: idle }))(performance.eventLoopUtilization())
      }
    },
    stats () {
      const machines: DataPlaneStats['machines'] = {}
      for (const [id, l] of loads.machines()) machines[id] = { inflight: l.inflight, edge: l.inflight - l.hosted, backhaulOpen: l.backhaulOpen, lastActivity: l.lastActivity, total: l.total }
      return { machines, connections: ctx.connections.size }
    },
    metrics () {
      const { active, idle } = performance.eventLoopUtilization()
      return {
        answers: counters.answers(),
        connections: counters.connections(),
        open: ctx.connections.size,
        backhaul: { edge: edgeBytes.totals(), hosted: hostedBytes.totals() },
        loop: { activeMs: active, idleMs: idle }
      }
    },
    takeRouterErrors: () => routerErrors.take(now()),
    on (event, fn) { events.on(event, fn as (...args: unknown[]) => void) }
  }
}
