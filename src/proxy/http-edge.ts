import type { Socket } from 'node:net'
import { challengeAnswer } from '../acme/acme-rows.js'
import { matchApp, hostnameOf, type Route } from './app-match.js'
import { pickMachines, type PickHints } from './balancer.js'
import { forwardRequestHead, forwardResponseHead } from './forward-head.js'
import {
  connectionHeaderLines, FORCE_INSTANCE, forwardedForLine, parseReplay, PREFER_REGION, REPLAY,
  requestDropper, responseDropper, responseHeaderLines
} from './forward-headers.js'
import { HttpConnection, S, type ResponseDecoration } from './http-connection.js'
import type { RequestHead, ResponseHead } from './http/head-types.js'
import { BACKHAUL_REFUSED } from './http-hosted.js'
import { place } from './placement.js'
import { proxyHeader } from './proxy-protocol.js'
import type { ProxyContext } from './proxy-context.js'
import type { ListenerRoute, MachineRoute } from './route-table.js'
import { createUpstreamReader, UpstreamConn } from './upstream-pool.js'
import type { ConnectFailure } from './upstream.js'
import type { Waiter } from './waiters.js'

const NO_HINTS: PickHints = {}
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
/** How soon a machine an autostart woke is tried again while its app is not answering yet. */
const WAKE_RETRY_MS = 100

/** How a client connection reached the router. */
export interface HttpEntry {
  listener: ListenerRoute
  tls: boolean
  /** TLS: the app chosen by the server name; every request on the connection goes to it. */
  fixed?: Route
}

/**
 * A client connection to a public port through the `http` handler: each request is matched to
 * an app (Host, or the TLS server name), balanced on its own to the best machine (waiting for
 * capacity or an autostart when there is none), sent with the router's headers over a pooled
 * connection — directly, or through the machine host's router — and retried elsewhere when a
 * connect fails or that host refuses it; the response comes back with the request id and the
 * region that served it, unless the machine asked for a replay.
 */
export class EdgeHttpConnection extends HttpConnection {
  /** Added to every request of this connection (computed once). */
  private readonly connLines: Buffer
  private readonly xffLine: string
  private hints: PickHints = NO_HINTS
  private exclude: Set<string> | null = null
  private attempts = 0
  private hops = 0
  private replaySrc: string | null = null
  /** When the current request stops waiting (for capacity or an autostart), however often it is parked again. */
  private waitUntil = 0
  private waitingFor: 'capacity' | 'autostart' | null = null
  /** After waiting for an autostart: until then, a machine that refuses or drops the connection is still starting its app. */
  private wokeUntil = 0

  constructor (ctx: ProxyContext, client: Socket, private readonly entry: HttpEntry) {
    super(ctx, client, false)
    this.xffLine = forwardedForLine(this.clientIp, undefined)
    this.connLines = Buffer.from(connectionHeaderLines({ clientIp: this.clientIp, clientPort: this.clientPort, port: entry.listener.port, tls: entry.tls, region: ctx.table.region }) + this.xffLine, 'latin1')
  }

  protected startRequest (head: RequestHead, raw: Buffer): void {
    const ctx = this.ctx
    this.requestId = ctx.nextRequestId()
    this.hops = 0
    this.attempts = 0
    this.exclude = null
    this.replaySrc = null
    this.wokeUntil = 0
    this.waitUntil = 0
    if (!this.entry.tls && (head.method === 'GET' || head.method === 'HEAD')) {
      const answer = challengeAnswer(head.target, ctx.table.acmeChallenges)
      if (answer !== undefined) { this.answerChallenge(head, answer); return }
    }
    const route = this.entry.fixed ?? matchApp(ctx.table, this.entry.listener, head.host === null ? null : hostnameOf(head.host))
    if (route === undefined) { this.fail('PR02', head.framing.kind !== 'none'); return }
    this.route = route
    if (route.port.forceHttps && !this.entry.tls) { this.redirectHttps(head); return }
    const upgrading = head.upgrade === 'websocket'
    this.fwdHead = forwardRequestHead(raw, head, requestDropper(head, upgrading))
    // Hints and a client's own X-Forwarded-For are among the dropped headers: none dropped, none there.
    if (this.fwdHead.dropped) {
      const prefer = head.headers.get(PREFER_REGION)
      const force = head.headers.get(FORCE_INSTANCE)
      this.hints = prefer === undefined && force === undefined ? NO_HINTS : { ...(prefer === undefined ? {} : { preferRegion: prefer }), ...(force === undefined ? {} : { forceInstance: force }) }
      const priorXff = head.headers.get('x-forwarded-for')
      this.fwdLines = `${priorXff === undefined ? '' : forwardedForLine(this.clientIp, priorXff)}roost-request-id: ${this.requestId}\r\n${upgrading ? 'connection: upgrade\r\n' : ''}`
      this.fwdFixed = priorXff === undefined ? this.connLines : this.connLines.subarray(0, this.connLines.byteLength - this.xffLine.length)
    } else {
      this.hints = NO_HINTS
      this.fwdLines = `roost-request-id: ${this.requestId}\r\n`
      this.fwdFixed = this.connLines
    }
    this.bodyCopy = this.framer === null ? null : []
    this.state = S.Routing
    this.dispatch()
  }

  protected override sendLines (): string {
    return this.replaySrc === null ? this.fwdLines : `${this.fwdLines}roost-replay-src: ${this.replaySrc}\r\n`
  }

  /** An ACME HTTP-01 validation request: the router answers it itself, for whatever app owns the name. */
  private answerChallenge (head: RequestHead, keyAuthorization: string): void {
    const close = !head.keepAlive || head.framing.kind !== 'none'
    this.ctx.loads.count('-', 'acme')
    this.client.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${keyAuthorization.length}\r\nroost-request-id: ${this.requestId}\r\n${close ? 'connection: close\r\n' : ''}\r\n${head.method === 'HEAD' ? '' : keyAuthorization}`)
    if (close) this.close()
    else this.nextRequest()
  }

  private redirectHttps (head: RequestHead): void {
    const host = head.host === null ? '' : hostnameOf(head.host)
    const target = head.target.startsWith('/') ? head.target : '/'
    const close = !head.keepAlive || head.framing.kind !== 'none'
    this.ctx.answered(this.route?.app.app ?? '-', this.handler, '3xx', this.reqStart)
    this.client.write(`HTTP/1.1 301 Moved Permanently\r\nlocation: https://${host.includes(':') ? `[${host}]` : host}${target}\r\ncontent-length: 0\r\nroost-request-id: ${this.requestId}\r\n${close ? 'connection: close\r\n' : ''}\r\n`)
    if (close) this.close()
    else this.nextRequest()
  }

  /** Picks a machine for the current request and connects (or reuses a pooled connection). */
  protected dispatch (): void {
    const ctx = this.ctx
    const route = this.route
    if (route === null || this.state === S.Closed) return
    const placed = place(ctx, route, this.hints, this.exclude)
    if (placed.kind !== 'go') {
      if (this.replaySrc !== null) { this.fail('PR08', true); return }
      if (placed.kind === 'wait') this.wait(placed.why, placed.why === 'capacity' ? ctx.limits.queueTimeoutMs : ctx.limits.autostartTimeoutMs)
      else this.fail(placed.code, true)
      return
    }
    const c = placed.candidate
    const m = c.machine
    this.machine = m
    this.attempts++
    const now = ctx.now()
    ctx.loads.acquire(m.id, now)
    const port = route.service.internalPort
    const key = `${m.id}/${m.instanceId}/${port}`
    const pooled = route.port.proxyProto === 0 && !this.resend ? ctx.pool.take(key) : undefined
    if (pooled !== undefined) { this.attach(pooled); return }
    const reader = m.local ? createUpstreamReader() : undefined
    ctx.connector.connect({ machine: m, port, host: c.host }, this.clientIp, now, route.port.proxyProto === 0 ? 'http' : 'tcp', reader?.onread).then(socket => {
      if (this.state === S.Closed || this.machine !== m) { socket.destroy(); return }
      const up = new UpstreamConn(socket, key, m.id, reader)
      if (route.port.proxyProto !== 0) {
        socket.write(proxyHeader(route.port.proxyProto, { clientAddress: this.clientIp, clientPort: this.clientPort, localAddress: this.client.localAddress ?? '', localPort: this.entry.listener.port }))
      }
      this.attach(up)
    }, (err: Error) => {
      if (this.state === S.Closed || this.machine !== m) return
      ctx.loads.release(m.id, ctx.now())
      this.machine = null
      if (ctx.now() < this.wokeUntil) { this.retryWoken(m, err.message); return }
      ctx.log.debug({ machine: m.id, err: err.message }, 'connect failed; next candidate')
      // A machine its host refused as full waits for capacity like one known full here; others are skipped.
      if ((err as ConnectFailure).atLimit === true) ctx.saturate(m.id)
      else (this.exclude ??= new Set()).add(m.id)
      if (this.attempts >= ctx.limits.connectAttempts) this.fail('PR04', true)
      else this.dispatch()
    })
  }

  private wait (why: 'capacity' | 'autostart', timeoutMs: number): void {
    const app = this.route?.app.app ?? ''
    this.waitingFor = why
    this.pauseClient()
    const w: Waiter = {
      app,
      deadline: this.waitUntil === 0 ? (this.waitUntil = this.ctx.now() + timeoutMs) : this.waitUntil,
      retry: () => {
        if (this.state === S.Closed || this.waiter !== w) return true
        const route = this.route
        if (route === null) return true
        const table = this.ctx.table
        const appRoute = table.apps[route.app.app]
        const service = appRoute?.services[route.service.index]
        if (appRoute === undefined || service === undefined) { this.waiter = null; this.fail('PR02', true); return true }
        // The machines this request already failed to reach stay out, as dispatch() keeps them out: else it goes ahead only to be parked again.
        const pick = pickMachines({ table, app: appRoute, service, inflight: this.ctx.loadOf, hints: this.hints, ...(this.exclude === null ? {} : { exclude: this.exclude }) })
        if (pick.order.length === 0) {
          // A machine that was going down when the request came is down now: wake it.
          if (this.waitingFor === 'autostart' && pick.startable > 0 && service.autoStart) this.ctx.requestAutostart(appRoute.app, service.index, 'no-started-machine')
          return false
        }
        if (this.waitingFor === 'autostart') this.wokeUntil = w.deadline
        this.waiter = null
        this.waitingFor = null
        this.route = { ...route, app: appRoute, service }
        this.dispatch()
        return true
      },
      expire: () => {
        if (this.waiter !== w) return
        this.waiter = null
        this.fail(this.waitingFor === 'capacity' ? 'PR03' : 'PR05', true)
      }
    }
    this.waiter = w
    this.ctx.waiters.park(w)
  }

  /** The machine an autostart woke does not answer yet (its app is still starting): again shortly. */
  private retryWoken (m: MachineRoute, why: string): void {
    this.ctx.log.debug({ machine: m.id, why }, 'woken machine not answering yet; trying again')
    setTimeout(() => { if (this.state === S.Routing && this.machine === null) this.dispatch() }, WAKE_RETRY_MS)
  }

  protected override intercept (res: ResponseHead): boolean {
    const refused = res.headers.get(BACKHAUL_REFUSED)
    if (refused !== undefined && this.machine !== null && !this.machine.local) { this.refusedByHost(refused); return true }
    const replay = res.headers.get(REPLAY)
    if (replay !== undefined) { this.replay(replay); return true }
    return false
  }

  protected decorate (res: ResponseHead, raw: Buffer, upgrading: boolean, connection: 'close' | 'keep-alive' | 'upgrade' | null): ResponseDecoration {
    const m = this.machine as MachineRoute
    return { head: forwardResponseHead(raw, res, responseDropper(res, upgrading)).base, lines: responseHeaderLines(this.requestId, m.region, connection) }
  }

  /**
   * The current machine's host stopped being alive (suspect or dead): a dead host answers
   * nothing and resets nothing, so a connect to it or a request sent to it would wait for a
   * timeout. A connect in progress moves on to the next candidate; an unanswered idempotent
   * request is sent to another machine (a duplicate GET is harmless, as after a closed
   * connection); anything else keeps waiting, as it may have been acted on.
   */
  override hostLost (machines: ReadonlySet<string>): void {
    const m = this.machine
    if (m === null || !machines.has(m.id)) return
    if (this.state === S.Routing && this.up === null) {
      const ctx = this.ctx
      ctx.loads.release(m.id, ctx.now())
      this.machine = null
      ;(this.exclude ??= new Set()).add(m.id)
      // Withdrawn, not failed: under loss a host is suspected and cleared again while connects
      // are slow, and a request must not run out of attempts for that (each machine is withdrawn once).
      this.attempts--
      ctx.log.debug({ machine: m.id }, 'its host is not alive while connecting; next candidate')
      this.dispatch()
      return
    }
    if (this.unanswered()) this.retryUnanswered(m, this.replayable())
  }

  protected override retryUnanswered (m: MachineRoute, replayable: boolean): boolean {
    if (!replayable) return false
    if (this.ctx.now() < this.wokeUntil) {
      this.sendAgain()
      this.retryWoken(m, 'closed before a response')
      return true
    }
    // A fresh connection that closed with no answer: an idempotent request may be sent to
    // another machine (RFC 9110 §9.2.2), as HAProxy's retry-on empty-response does.
    if (!IDEMPOTENT.has(this.req?.method ?? '') || this.attempts >= this.ctx.limits.connectAttempts || !this.otherCandidate(m.id)) return false
    this.ctx.log.debug({ machine: m.id }, 'machine closed before answering; next candidate')
    this.sendAgain()
    ;(this.exclude ??= new Set()).add(m.id)
    this.dispatch()
    return true
  }

  /** Whether a machine other than `except` (and those already tried) could take the request now. */
  private otherCandidate (except: string): boolean {
    const route = this.route
    if (route === null) return false
    const exclude = new Set(this.exclude ?? [])
    exclude.add(except)
    return pickMachines({ table: this.ctx.table, app: route.app, service: route.service, inflight: this.ctx.loadOf, hints: this.hints, exclude }).order.length > 0
  }

  /**
   * The machine's host refused the request over the backhaul before any of it reached the
   * machine (at its hard limit, gone, or not connectable): the next candidate gets it, as after
   * a failed connect.
   */
  private refusedByHost (reason: string): void {
    const ctx = this.ctx
    const m = this.machine as MachineRoute
    this.abortUpstream()
    ctx.log.debug({ machine: m.id, reason }, 'refused by the machine\'s host; next candidate')
    if (reason === 'at-limit') ctx.saturate(m.id)
    else (this.exclude ??= new Set()).add(m.id)
    if (!this.replayable() || this.attempts >= ctx.limits.connectAttempts) { this.fail(reason === 'at-limit' ? 'PR03' : 'PR04', true); return }
    this.sendAgain()
    this.dispatch()
  }

  /** The machine answered `roost-replay`: the request goes where it says instead (bounded hops). */
  private replay (value: string): void {
    const ctx = this.ctx
    const m = this.machine as MachineRoute
    const target = parseReplay(value)
    this.abortUpstream()
    if (target === undefined) { this.fail('PR08', true, 'unreadable roost-replay header'); return }
    this.hops++
    if (this.hops > ctx.limits.maxReplayHops) { this.fail('PR06', true); return }
    if (this.framer !== null && !this.replayable()) { this.fail('PR07', true); return }
    if (target.app !== undefined && target.app !== this.route?.app.app) {
      const app = ctx.table.apps[target.app]
      const service = app?.services.find(s => s.ports.some(p => p.http)) ?? app?.services[0]
      const port = service?.ports.find(p => p.http) ?? service?.ports[0]
      if (app === undefined || service === undefined || port === undefined) { this.fail('PR08', true, `no app ${target.app}`); return }
      this.route = { app, service, port }
    }
    this.hints = { ...(target.region === undefined ? {} : { onlyRegion: target.region }), ...(target.instance === undefined ? {} : { forceInstance: target.instance }) }
    this.exclude = new Set([m.id])
    this.replaySrc = `instance=${m.id};region=${m.region}${target.state === undefined ? '' : `;state=${target.state}`}`
    this.attempts = 0
    this.sendAgain()
    ctx.log.debug({ from: m.id, target }, 'replaying request')
    this.dispatch()
  }
}
