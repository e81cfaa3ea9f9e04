import { defineActor, type ActorContext, type ActorDefinition } from '../../src/runtime/actor.js'
import type { EventRecorder } from '../../src/events/event-kinds.js'
import { describeRouterError } from '../../src/proxy/router-errors.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { ServiceRowData } from '../../src/gossip/rows.js'
import { compileRoutes, type MemberInput, type RowInput } from '../../src/proxy/route-compile.js'
import { needsDataPlane, type RouteTable } from '../../src/proxy/route-table.js'
import type { DataPlaneThread } from '../../src/proxy/data-plane-thread.js'
import type { CaMaterial } from '../../src/proxy/tls/dev-ca.js'
import { idleDataPlaneSnapshot } from '../../src/proxy/data-plane-view.js'
import type { MachineProtocol } from '../machines/messages.js'
import type { MembershipProtocol } from '../membership/messages.js'
import type { WireguardProtocol } from '../wireguard/messages.js'
import { addCert, listCerts, removeCert } from './certs.js'
import { machineToStart } from './autostart.js'
import { isDownSince, machinesToStop, type MachineActivity } from './autostop.js'
import { LOAD_REPORT_MIN_MS, LOAD_REPORT_REFRESH_MS, loadBands, sameLoads } from './load-report.js'
import { routerProtocol, type RouterProtocol } from './messages.js'
import { checkDeploy } from './deploy-check.js'

export interface RouterActorInit {
  region: string
  /** Cluster domain: apps answer as `<app>.<domain>`. */
  domain: string
  /** The agent's `--wireguard` choice; `off` makes backhauls plain TCP between host addresses. */
  wireguard: 'auto' | 'on' | 'off'
  /** This host's address (the `--host` one) for backhauls without WireGuard. */
  hostAddress: string
  backhaulPort: number
  /** Idle time after which autostop stops a machine; also how often it looks. */
  autostopIntervalMs: number
  /** How often membership (states, RTT) is read (ms). */
  tickMs?: number
  /** Where ACME HTTP-01 validation connects (`--acme-http-port`): listened on once the cluster uses ACME. */
  acmeHttpPort?: number
}

export interface RouterActorComponents {
  /**
   * The data plane on its own thread, fed by this actor and stopped by the host. This actor starts
   * it once a route table first has something to serve (an idle agent runs no proxy thread).
   */
  dataPlane: Pick<DataPlaneThread, 'setRoutes' | 'setBackhaul' | 'snapshot' | 'on' | 'start' | 'running'>
  ca: CaMaterial | null
  certKey: Buffer
  /** This host's event stream: the data plane's router errors go in (batched and rate-limited there). */
  events: EventRecorder
}

const TABLES = ['services', 'machines', 'routers', 'certs', 'wireguard', 'acme'] as const
type Watched = typeof TABLES[number]
const COMPILE_DELAY_MS = 10
const AUTOSTOP_CORDON_GRACE_MS = 1_000
/** A machine autostop stopped is uncordoned once it is down, or after this long regardless. */
const AUTOSTOP_SETTLE_MS = 90_000
const AUTOSTART_RETRY_MS = 30_000

/**
 * `/agent/router`: the proxy's control plane. It keeps the routes (apps, machines, other
 * routers' backhauls and loads, certificates) compiled from the local replica and posts them
 * to the data-plane thread; wakes machines for autostart; stops idle local machines
 * (autostop); publishes this router's backhaul address and the load it sends to each machine.
 * Crash policy: restart (it rebuilds everything from the replica; the data plane keeps serving
 * the last routes meanwhile).
 */
export function routerActor (init: RouterActorInit, components: RouterActorComponents): ActorDefinition<RouterProtocol> {
  return defineActor({
    protocol: routerProtocol,
    policy: policies.restart({ backoff: { initialMs: 100, maxMs: 5_000, factor: 2 }, maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const self = ctx.system.hostId
      const dp = components.dataPlane
      const membership = ref<MembershipProtocol>(self, '/agent/membership')
      const rows: Record<Watched, Map<string, RowInput>> = { services: new Map(), machines: new Map(), routers: new Map(), certs: new Map(), wireguard: new Map(), acme: new Map() }
      let members: MemberInput[] = []
      let membersKey = ''
      let table: RouteTable | undefined
      let version = 0
      let compileQueued = false
      let backhaul: { address: string, port: number, mode: 'wireguard' | 'direct' } | null = null
      let backhaulPending = false
      let lastLoads: Record<string, number> = {}
      let lastLoadWrite = 0
      let activity: Record<string, MachineActivity> = {}
      const startedSince = new Map<string, number>()
      const stopping = new Set<string>()
      /** Machines autostop asked to stop, waiting to be down before their uncordon. */
      const settling = new Map<string, { app: string, mode: 'stop' | 'suspend', since: number, deadline: number }>()
      const starting = new Map<string, { machine: string, at: number }>()
      const counters = { stopped: 0, started: 0 }
      let lastAutostop = Date.now()
      /** Rejections logged already (`table/key: reason`): a rejected row is logged once, not at every compile. */
      let rejectionsLogged = new Set<string>()
      const listeners = new Map<number, string>()
      const timers = new Set<NodeJS.Timeout>()
      const later = (ms: number, fn: () => void): void => {
        const t = setTimeout(() => { timers.delete(t); fn() }, ms)
        timers.add(t)
      }

      const scheduleCompile = (): void => {
        if (compileQueued) return
        compileQueued = true
        later(COMPILE_DELAY_MS, () => { ctx.tell({ type: 'router.compile' }) })
      }

      const compile = (): void => {
        compileQueued = false
        const list = (t: Watched): RowInput[] => [...rows[t].values()]
        table = compileRoutes({
          version: ++version,
          hostId: self,
          region: init.region,
          domain: init.domain,
          services: list('services'),
          machines: list('machines'),
          routers: list('routers'),
          certs: list('certs'),
          acme: list('acme'),
          acmeHttpPort: init.acmeHttpPort ?? 0,
          now: Date.now(),
          members
        })
        const rejections = new Set<string>()
        for (const r of table.rejected) {
          const mark = `${r.table}/${r.key}: ${r.reason}`
          rejections.add(mark)
          if (!rejectionsLogged.has(mark)) ctx.log.warn({ table: r.table, key: r.key, reason: r.reason }, 'row rejected by the router')
        }
        rejectionsLogged = rejections
        const now = Date.now()
        for (const app of Object.values(table.apps)) {
          for (const m of app.machines) {
            if (m.state === 'started') { if (!startedSince.has(m.id)) startedSince.set(m.id, now) } else startedSince.delete(m.id)
            const s = starting.get(app.app)
            if (s !== undefined && s.machine === m.id && m.state === 'started') starting.delete(app.app)
          }
        }
        if (dp.running() || needsDataPlane(table)) {
          startDataPlane()
          dp.setRoutes(table)
          void ensureBackhaul()
        }
        if (settling.size > 0) settle()
      }

      const writeRouterRow = (): void => {
        ctx.system.dispatch(membership, { type: 'membership.write', table: 'routers', key: self, data: { backhaul, loads: lastLoads, updatedAt: Date.now() } })
      }

      /** Routes and calls posted while the thread loads wait for it, so the first table is served as soon as it is up. */
      const startDataPlane = (): void => {
        if (dp.running()) return
        ctx.log.info({ apps: table === undefined ? 0 : Object.keys(table.apps).length }, 'starting the data plane: the routes have something to serve')
        dp.start().catch((err: unknown) => { ctx.log.error({ err }, 'the data plane thread could not start') })
      }

      const ensureBackhaul = async (): Promise<void> => {
        if (backhaul !== null || backhaulPending || !dp.running()) return
        let spec: { address: string, port: number, checkSource: boolean, mode: 'wireguard' | 'direct' } | null = null
        if (init.wireguard === 'off') {
          spec = { address: init.hostAddress, port: init.backhaulPort, checkSource: false, mode: 'direct' }
        } else {
          const own = rows.wireguard.get(self)
          const address = typeof own?.data?.address === 'string' ? own.data.address : undefined
          if (address !== undefined) spec = { address, port: init.backhaulPort, checkSource: true, mode: 'wireguard' }
          else {
            const status = await ctx.system.ask(ref<WireguardProtocol>(self, '/agent/wireguard'), { type: 'wireguard.status' }, { timeoutMs: 2_000 }).catch(() => null)
            if (status !== null && status.mode === 'stream' && status.reason !== null && init.wireguard === 'auto') {
              spec = { address: init.hostAddress, port: init.backhaulPort, checkSource: false, mode: 'direct' }
            }
          }
        }
        if (spec === null) return
        backhaulPending = true
        const { mode, ...listen } = spec
        try {
          const bound = await dp.setBackhaul(listen)
          if (bound !== null) {
            backhaul = { address: spec.address, port: bound.port, mode }
            if (mode === 'direct' && init.wireguard !== 'off') ctx.log.warn({ address: spec.address }, 'WireGuard is not running here: backhauls to this host use plain TCP between host addresses')
            writeRouterRow()
          }
        } catch (err) {
          ctx.log.error({ err, address: spec.address, port: spec.port }, 'backhaul listener could not start; retrying')
        } finally {
          backhaulPending = false
        }
      }

      const refreshMembers = async (): Promise<void> => {
        const { members: list } = await ctx.system.ask(membership, { type: 'membership.list' }, { timeoutMs: 2_000 })
        members = list.map(m => ({ hostId: m.hostId, name: m.name, region: m.region, state: m.state, rttMs: m.rttMs }))
        const key = members.map(m => `${m.hostId}:${m.state}:${m.region}:${m.rttMs === null ? '-' : Math.floor(m.rttMs / 5)}`).join(',')
        if (key !== membersKey) { membersKey = key; scheduleCompile() }
      }

      const autostop = (): void => {
        if (table === undefined) return
        const now = Date.now()
        for (const d of machinesToStop({ now, idleMs: init.autostopIntervalMs, table, activity, startedSince, busy: stopping })) {
          const m = d.machine
          stopping.add(m.id)
          ctx.log.info({ machine: m.id, app: m.app, mode: d.mode }, 'autostop: idle machine, cordoning before it stops')
          const machineRef = ref<MachineProtocol>(self, `/agent/machines/${m.id}`)
          ctx.system.ask(machineRef, { type: 'machine.cordon', app: m.app, cordoned: true }, { timeoutMs: 5_000 }).then(() => {
            later(AUTOSTOP_CORDON_GRACE_MS, () => { ctx.tell({ type: 'router.autostop-step', machine: m.id, app: m.app, host: self, step: 'stop', mode: d.mode }) })
          }, (err: Error) => {
            stopping.delete(m.id)
            ctx.log.warn({ machine: m.id, err: err.message }, 'autostop: cordon failed')
          })
        }
      }

      const autostopStep = (msg: { machine: string, app: string, step: 'stop' | 'uncordon' | 'done', mode: 'stop' | 'suspend' }): void => {
        const machineRef = ref<MachineProtocol>(self, `/agent/machines/${msg.machine}`)
        const next = (step: 'uncordon' | 'done'): void => { ctx.tell({ ...msg, type: 'router.autostop-step', host: self, step }) }
        if (msg.step === 'stop') {
          const act = activity[msg.machine]
          if (act !== undefined && (act.inflight > 0 || act.backhaulOpen > 0)) {
            ctx.log.info({ machine: msg.machine }, 'autostop: traffic came back, machine stays')
            next('uncordon')
            return
          }
          const since = Date.now()
          const stop = msg.mode === 'suspend'
            ? ctx.system.ask(machineRef, { type: 'machine.suspend', app: msg.app }, { timeoutMs: 60_000 }).catch(async (err: Error) => {
              ctx.log.info({ machine: msg.machine, err: err.message }, 'autostop: suspend not possible, stopping instead')
              return await ctx.system.ask(machineRef, { type: 'machine.stop', app: msg.app }, { timeoutMs: 60_000 })
            })
            : ctx.system.ask(machineRef, { type: 'machine.stop', app: msg.app }, { timeoutMs: 60_000 })
          stop.then(() => {
            counters.stopped++
            ctx.log.info({ machine: msg.machine, app: msg.app, mode: msg.mode }, 'autostop: machine stopping')
            settling.set(msg.machine, { app: msg.app, mode: msg.mode, since, deadline: since + AUTOSTOP_SETTLE_MS })
            settle()
          }, (err: Error) => {
            ctx.log.warn({ machine: msg.machine, err: err.message }, 'autostop: stop failed')
            next('uncordon')
          })
          return
        }
        if (msg.step === 'uncordon') {
          ctx.system.ask(machineRef, { type: 'machine.cordon', app: msg.app, cordoned: false }, { timeoutMs: 10_000 })
            .catch((err: Error) => { ctx.log.warn({ machine: msg.machine, err: err.message }, 'autostop: uncordon failed') })
            .finally(() => { next('done') })
          return
        }
        stopping.delete(msg.machine)
      }

      /** Uncordons the machines autostop stopped once they are down (or after a long while regardless). */
      const settle = (): void => {
        const now = Date.now()
        for (const [id, s] of settling) {
          const down = isDownSince(rows.machines.get(id), s.since)
          if (!down && now < s.deadline) continue
          if (!down) ctx.log.warn({ machine: id }, 'autostop: the machine is still not down; uncordoning it anyway')
          settling.delete(id)
          ctx.tell({ type: 'router.autostop-step', machine: id, app: s.app, host: self, step: 'uncordon', mode: s.mode })
        }
      }

      const autostart = (app: string, reason: string): void => {
        if (table === undefined) return
        const a = table.apps[app]
        if (a === undefined) return
        const now = Date.now()
        const inProgress = starting.get(app)
        if (inProgress !== undefined && now - inProgress.at < AUTOSTART_RETRY_MS) return
        const exclude = new Set(inProgress === undefined ? [] : [inProgress.machine])
        const m = machineToStart(table, a, exclude)
        if (m === undefined) { ctx.log.debug({ app, reason }, 'autostart: nothing to start'); return }
        starting.set(app, { machine: m.id, at: now })
        ctx.log.info({ app, machine: m.id, host: m.host.slice(0, 12), state: m.state, reason }, 'autostart: starting a machine')
        ctx.system.ask(ref<MachineProtocol>(m.host, `/agent/machines/${m.id}`), { type: 'machine.start', app }, { timeoutMs: 30_000 }).then(() => {
          counters.started++
        }, (err: Error) => {
          starting.delete(app)
          ctx.log.warn({ app, machine: m.id, err: err.message }, 'autostart: start failed')
        })
      }

      const publishLoads = (machines: Record<string, { edge: number }>): void => {
        const now = Date.now()
        const loads = loadBands(Object.fromEntries(Object.entries(machines).map(([id, m]) => [id, { inflight: m.edge }])))
        const changed = !sameLoads(loads, lastLoads)
        const stale = Object.keys(loads).length > 0 && now - lastLoadWrite > LOAD_REPORT_REFRESH_MS
        if ((!changed && !stale) || now - lastLoadWrite < LOAD_REPORT_MIN_MS) return
        lastLoads = loads
        lastLoadWrite = now
        if (backhaul !== null || Object.keys(loads).length > 0) writeRouterRow()
      }

      const load = async (): Promise<void> => {
        await ctx.system.ask(membership, { type: 'membership.subscribe', subscriber: ctx.path, members: true }, { timeoutMs: 5_000 })
        for (const t of TABLES) {
          const { rows: list } = await ctx.system.ask(membership, { type: 'membership.state', table: t }, { timeoutMs: 5_000 })
          for (const r of list) rows[t].set(r.key, { key: r.key, owner: r.owner, data: r.data, deleted: r.deleted, ownerDead: r.ownerDead })
        }
        await refreshMembers()
        compile()
      }

      const wire = (dpEvents: (c: ActorContext<RouterProtocol>) => Array<() => void>): Array<() => void> => dpEvents(ctx)
      // The thread outlives this actor's restarts: each incarnation subscribes, and unsubscribes in stop().
      const unsubscribe = wire((c) => [
        dp.on('stats', (stats) => { c.tell({ type: 'router.stats', ...stats }) }),
        dp.on('autostart', (req) => { c.tell({ type: 'router.autostart', ...req }) }),
        dp.on('listener', (state) => { c.tell({ type: 'router.listener', ...state }) }),
        dp.on('exit', (err) => { c.tell({ type: 'router.dataplane-exit', message: err.message }) }),
        dp.on('router-errors', (errors) => {
          for (const e of errors) components.events.record('router.error', describeRouterError(e), { ...e })
        })
      ])
      // After the thread died (this actor crashed on it and was restarted), the first compile starts a new one.
      const tick = setInterval(() => { ctx.tell({ type: 'router.tick' }) }, init.tickMs ?? 500)
      load().catch((err: unknown) => { ctx.log.error({ err }, 'router could not load the cluster state; retrying on the next tick') })

      return {
        handlers: {
          'router.status': () => ({ ready: table !== undefined, listeners: [...listeners.values()].filter(v => v === 'listening').length, apps: table === undefined ? 0 : Object.keys(table.apps).length, backhaul: backhaul === null ? null : `${backhaul.address}:${backhaul.port} (${backhaul.mode})` }),
          'router.routes': async (msg) => {
            const snap = dp.running() ? await dp.snapshot() : idleDataPlaneSnapshot(table?.version ?? 0, table?.rejected ?? [])
            return {
              ...snap,
              apps: msg.app === undefined ? snap.apps : snap.apps.filter(a => a.app === msg.app),
              host: self,
              region: init.region,
              domain: init.domain,
              backhaul: { ...snap.backhaul, mode: backhaul?.mode ?? 'none' },
              autostop: { intervalMs: init.autostopIntervalMs, ...counters }
            }
          },
          'router.deploy': async (msg) => {
            const spec: ServiceRowData = msg.spec
            const owner = ownerElsewhere('services', spec.app)
            if (owner !== undefined) return await ctx.system.ask(ref<RouterProtocol>(owner, ctx.path), msg, { timeoutMs: 10_000, from: ctx.path })
            const updatedAt = Date.now()
            // A redeploy keeps the app's first deploy time: it decides who keeps a contested port.
            const previous = rows.services.get(spec.app)
            const held = previous === undefined || previous.deleted || previous.data === null ? undefined : previous.data.createdAt ?? previous.data.updatedAt
            const row: ServiceRowData = { ...spec, updatedAt, createdAt: typeof held === 'number' ? held : updatedAt }
            checkDeploy(row, [...rows.services.values()], init.domain)
            await ctx.system.ask(membership, { type: 'membership.write', table: 'services', key: spec.app, data: row }, { timeoutMs: 5_000 })
            return { app: spec.app, deployVersion: spec.deployVersion }
          },
          'router.undeploy': async (msg) => {
            const owner = ownerElsewhere('services', msg.app)
            if (owner !== undefined) { await ctx.system.ask(ref<RouterProtocol>(owner, ctx.path), msg, { timeoutMs: 10_000, from: ctx.path }); return }
            await ctx.system.ask(membership, { type: 'membership.delete', table: 'services', key: msg.app }, { timeoutMs: 5_000 })
          },
          'router.certs-add': async (msg) => {
            const owner = ownerElsewhere('certs', msg.hostname.toLowerCase())
            if (owner !== undefined) return await ctx.system.ask(ref<RouterProtocol>(owner, ctx.path), msg, { timeoutMs: 15_000, from: ctx.path })
            return await addCert(msg, certDeps())
          },
          'router.certs-list': (msg) => listCerts(msg, certDeps()),
          'router.certs-rm': async (msg) => {
            const owner = ownerElsewhere('certs', msg.hostname.toLowerCase())
            if (owner !== undefined) return await ctx.system.ask(ref<RouterProtocol>(owner, ctx.path), msg, { timeoutMs: 10_000, from: ctx.path })
            return await removeCert(msg, certDeps())
          },
          'state.changed': (msg) => {
            const t = msg.row.table as Watched
            if (!(TABLES as readonly string[]).includes(t)) return
            const r = msg.row
            if (msg.kind === 'delete') rows[t].set(r.key, { key: r.key, owner: r.owner, data: null, deleted: true, ownerDead: r.ownerDead })
            else rows[t].set(r.key, { key: r.key, owner: r.owner, data: r.data, deleted: r.deleted, ownerDead: r.ownerDead })
            scheduleCompile()
          },
          'members.changed': () => {
            if (table === undefined) return
            refreshMembers().catch((err: unknown) => { ctx.log.debug({ err }, 'membership read failed') })
          },
          'router.compile': () => { compile() },
          'router.tick': () => {
            if (table === undefined) { load().catch((err: unknown) => { ctx.log.warn({ err }, 'router state load failed') }); return }
            refreshMembers().catch((err: unknown) => { ctx.log.debug({ err }, 'membership read failed') })
            void ensureBackhaul()
            const now = Date.now()
            if (now - lastAutostop >= Math.min(init.autostopIntervalMs, 10_000) / 2) { lastAutostop = now; autostop() }
            if (settling.size > 0) settle()
          },
          'router.stats': (msg) => {
            activity = msg.machines
            publishLoads(msg.machines)
          },
          'router.autostart': (msg) => { autostart(msg.app, msg.reason) },
          'router.listener': (msg) => {
            listeners.set(msg.port, msg.state)
            if (table !== undefined && !table.listeners.some(l => l.port === msg.port)) listeners.delete(msg.port)
          },
          'router.dataplane-exit': (msg) => {
            throw new Error(`data plane thread exited: ${msg.message}`)
          },
          'router.autostop-step': (msg) => { autostopStep(msg) }
        },
        stop () {
          for (const off of unsubscribe) off()
          clearInterval(tick)
          for (const t of timers) clearTimeout(t)
          timers.clear()
          ctx.system.dispatch(membership, { type: 'membership.unsubscribe', subscriber: ctx.path })
        }
      }

      /** A row's owner when it is another live host: only it may write the row, so the request goes there. */
      function ownerElsewhere (t: Watched, key: string): string | undefined {
        const row = rows[t].get(key)
        if (row === undefined || row.deleted || row.owner === self || row.ownerDead) return undefined
        return members.find(m => m.hostId === row.owner)?.state === 'alive' ? row.owner : undefined
      }

      function certDeps (): Parameters<typeof addCert>[1] {
        return {
          ca: components.ca,
          certKey: components.certKey,
          writeRow: async (tableName, key, data) => await ctx.system.ask(membership, { type: 'membership.write', table: tableName, key, data }, { timeoutMs: 5_000 }),
          deleteRow: async (tableName, key) => await ctx.system.ask(membership, { type: 'membership.delete', table: tableName, key }, { timeoutMs: 5_000 }),
          listRows: () => [...rows.certs.values()].map(r => ({ key: r.key, deleted: r.deleted, data: r.data })),
          now: Date.now
        }
      }
    }
  })
}
