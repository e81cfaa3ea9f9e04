import type { Socket } from 'node:net'
import { matchApp, hostnameOf, type Route } from './app-match.js'
import { pickMachines, type PickHints } from './balancer.js'
import { forwardRequestHead, forwardResponseHead, type ForwardHead } from './forward-head.js'
import { joinHead, JOIN_BODY_MAX } from './head-bytes.js'
import {
  connectionHeaderLines, FORCE_INSTANCE, forwardedForLine, parseReplay, PREFER_REGION, REPLAY,
  requestDropper, responseDropper, responseHeaderLines, type ReplayTarget
} from './forward-headers.js'
import { chunkedFramer, lengthFramer, type BodyFramer } from './http/body-framer.js'
import { findHeadEnd } from './http/head-end.js'
import type { RequestHead, ResponseHead } from './http/head-types.js'
import { parseRequestHead } from './http/request-head.js'
import { parseResponseHead } from './http/response-head.js'
import { proxyHeader, unmapIPv4 } from './proxy-protocol.js'
import type { ProxyContext } from './proxy-context.js'
import { errorResponse, type ResultCode } from './result-codes.js'
import type { ListenerRoute, MachineRoute } from './route-table.js'
import { UpstreamConn, type UpstreamOwner } from './upstream-pool.js'
import type { ConnectFailure } from './upstream.js'
import type { Waiter } from './waiters.js'
import { place } from './placement.js'
import { WS_GOING_AWAY } from './ws-close.js'

const enum S { Head, Routing, Body, Await, Tunnel, Closed }
const enum R { Head, Body, Done }

const NO_HINTS: PickHints = {}
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx']

/** Client bytes buffered while a request is being routed or answered, before reading pauses. */
const MAX_STASH_BYTES = 64 * 1024
/** How soon a machine an autostart woke is tried again while its app is not answering yet. */
const WAKE_RETRY_MS = 100

/** How a client connection reached the router. */
export interface HttpEntry {
  listener: ListenerRoute
  tls: boolean
  /** TLS: the app chosen by the server name; every request on the connection goes to it. */
  fixed?: Route
  /**
   * A backhaul from another host's router: every request goes to this local machine, already
   * decorated by that router and passed on unchanged, after admission against the machine's
   * hard limit (this host sees every router's traffic to it). A request that cannot be admitted
   * is answered with a `roost-backhaul-refused` 503 before any byte of it reaches the machine, so
   * the other router can send it elsewhere.
   */
  hosted?: { app: string, machine: string, port: number }
}

/** What a router answers over a backhaul when a machine cannot take a request (the edge retries elsewhere). */
export const BACKHAUL_REFUSED = 'roost-backhaul-refused'

function concat (a: Buffer | null, b: Buffer): Buffer {
  return a === null || a.byteLength === 0 ? b : Buffer.concat([a, b])
}

/**
 * One client connection through the `http` handler: request heads are parsed strictly on the
 * raw socket, bodies are framed and moved as they are, each request is balanced on its own
 * over pooled keep-alive connections to machines (directly or through a backhaul), and the
 * machine's response head is parsed and passed back with the router's headers.
 */
export class HttpProxyConnection implements UpstreamOwner {
  private state = S.Head
  private buf: Buffer | null = null
  private scanFrom = 0
  private deadline = 0
  private readonly clientIp: string
  private readonly clientPort: number
  private clientEnded = false
  private paused = false

  private req: RequestHead | null = null
  private route: Route | null = null
  private fwdHead: ForwardHead | null = null
  /** The request's own added lines (request id, X-Forwarded-For, …) after the connection's. */
  private fwdLines = ''
  /** The connection's fixed lines for the current request (null over a backhaul: nothing added). */
  private fwdFixed: Buffer | null = null
  /** Added to every request of this connection (computed once). */
  private readonly connLines: Buffer
  private readonly xffLine: string
  private readonly hosted: boolean
  private framer: BodyFramer | null = null
  private bodyCopy: Buffer[] | null = null
  private bodyCopyBytes = 0
  private requestId = ''
  private hints: PickHints = {}
  private exclude: Set<string> | null = null
  private attempts = 0
  private hops = 0
  private replaySrc: string | null = null
  private resend = false
  private waiter: Waiter | null = null
  /** When the current request stops waiting (for capacity or an autostart), however often it is parked again. */
  private waitUntil = 0
  private waitingFor: 'capacity' | 'autostart' | null = null
  /** After waiting for an autostart: until then, a machine that refuses or drops the connection is still starting its app. */
  private wokeUntil = 0

  private up: UpstreamConn | null = null
  private machine: MachineRoute | null = null
  private upBuf: Buffer | null = null
  private upScan = 0
  private res: ResponseHead | null = null
  private resState = R.Head
  private resFramer: BodyFramer | null = null
  private resDeadline = 0
  private closeAfter = false
  private upPaused = false

  constructor (private readonly ctx: ProxyContext, private readonly client: Socket, private readonly entry: HttpEntry) {
    this.clientIp = unmapIPv4(client.remoteAddress ?? '')
    this.clientPort = client.remotePort ?? 0
    this.hosted = entry.hosted !== undefined
    this.xffLine = forwardedForLine(this.clientIp, undefined)
    this.connLines = Buffer.from(connectionHeaderLines({ clientIp: this.clientIp, clientPort: this.clientPort, port: entry.listener.port, tls: entry.tls, region: ctx.table.region }) + this.xffLine, 'latin1')
    this.deadline = ctx.now() + ctx.limits.idleTimeoutMs
    ctx.connections.add(this)
    client.on('data', this.onClientData)
    client.on('end', this.onClientEnd)
    client.on('error', this.onClientClose)
    client.on('close', this.onClientClose)
    client.on('drain', this.onClientDrain)
  }

  private readonly onClientData = (chunk: Buffer): void => {
    switch (this.state) {
      case S.Head:
        this.buf = concat(this.buf, chunk)
        this.tryHead()
        return
      case S.Body:
        this.feedBody(chunk)
        return
      case S.Tunnel:
        if (this.up !== null && !this.up.socket.write(chunk)) this.pauseClient()
        return
      case S.Routing:
      case S.Await:
        this.buf = concat(this.buf, chunk)
        if (this.buf.byteLength > MAX_STASH_BYTES) this.pauseClient()
    }
  }

  private readonly onClientEnd = (): void => {
    this.clientEnded = true
    if (this.state === S.Head && (this.buf === null || this.buf.byteLength === 0)) this.close()
    else if (this.state === S.Tunnel) this.up?.socket.end()
  }

  private readonly onClientClose = (): void => {
    if (this.state === S.Closed) return
    this.state = S.Closed
    this.abortExchange()
    this.ctx.connections.delete(this)
    this.client.destroy()
  }

  private readonly onClientDrain = (): void => {
    if (this.upPaused && this.up !== null) {
      this.upPaused = false
      this.up.socket.resume()
    }
  }

  private pauseClient (): void {
    if (this.paused) return
    this.paused = true
    this.client.pause()
  }

  private resumeClient (): void {
    if (!this.paused) return
    this.paused = false
    this.client.resume()
  }

  /** Timeouts, checked by the data plane's sweeper about twice a second. */
  sweep (now: number): void {
    if (this.state === S.Head && this.deadline !== 0 && now > this.deadline) {
      if (this.buf !== null && this.buf.byteLength > 0) this.fail('PR12', true)
      else this.close()
    } else if ((this.state === S.Await || this.state === S.Body) && this.resState === R.Head && this.resDeadline !== 0 && now > this.resDeadline) {
      this.fail('PR14', true)
    }
  }

  destroy (): void {
    this.onClientClose()
  }

  private tryHead (): void {
    const buf = this.buf
    if (buf === null || buf.byteLength === 0) return
    const limits = this.ctx.limits
    if (this.scanFrom === 0) this.deadline = this.ctx.now() + limits.headTimeoutMs
    const end = findHeadEnd(buf, this.scanFrom)
    if (end < 0) {
      if (buf.byteLength > limits.maxHeadBytes) this.fail('PR11', true)
      else this.scanFrom = Math.max(1, buf.byteLength - 3)
      return
    }
    const raw = buf.subarray(0, end)
    this.buf = end === buf.byteLength ? null : buf.subarray(end)
    this.scanFrom = 0
    const parsed = parseRequestHead(raw, limits)
    if (parsed.kind !== 'done') {
      const status = parsed.kind === 'error' ? parsed.status : 400
      this.ctx.log.debug({ client: this.clientIp, code: parsed.kind === 'error' ? parsed.code : 'incomplete', reason: parsed.kind === 'error' ? parsed.reason : '' }, 'malformed request refused')
      this.fail(status === 431 ? 'PR11' : 'PR10', true, parsed.kind === 'error' ? parsed.reason : undefined, status === 431 ? undefined : status)
      return
    }
    this.startRequest(parsed.head, raw)
  }

  private startRequest (head: RequestHead, raw: Buffer): void {
    const ctx = this.ctx
    this.deadline = 0
    this.req = head
    this.requestId = ctx.nextRequestId()
    this.hops = 0
    this.attempts = 0
    this.exclude = null
    this.replaySrc = null
    this.resend = false
    this.wokeUntil = 0
    this.waitUntil = 0
    if (this.entry.hosted !== undefined) { this.startHosted(head, raw, this.entry.hosted); return }
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
    this.framer = head.framing.kind === 'length' ? lengthFramer(head.framing.length) : head.framing.kind === 'chunked' ? chunkedFramer() : null
    this.bodyCopy = this.framer === null ? null : []
    this.bodyCopyBytes = 0
    this.state = S.Routing
    this.dispatch()
  }

  private startHosted (head: RequestHead, raw: Buffer, hosted: NonNullable<HttpEntry['hosted']>): void {
    const app = this.ctx.table.apps[hosted.app]
    const service = app?.services.find(x => x.internalPort === hosted.port)
    if (app === undefined || service === undefined) { this.refuseHosted('no-machine'); return }
    this.route = { app, service, port: service.ports[0] ?? { port: hosted.port, tls: false, http: true, proxyProto: 0, forceHttps: false, alpn: [] } }
    this.hints = NO_HINTS
    this.fwdHead = { base: raw.subarray(0, raw.byteLength - 2), dropped: false }
    this.fwdLines = ''
    this.fwdFixed = null
    this.framer = head.framing.kind === 'length' ? lengthFramer(head.framing.length) : head.framing.kind === 'chunked' ? chunkedFramer() : null
    this.bodyCopy = null
    this.state = S.Routing
    this.dispatchHosted(hosted.machine)
  }

  /** Admission of one backhauled request for this host's machine. */
  private dispatchHosted (machine: string): void {
    const ctx = this.ctx
    const route = this.route as Route
    const m = route.app.machines.find(x => x.id === machine)
    if (m === undefined || !m.local || m.state !== 'started') { this.refuseHosted('no-machine'); return }
    if (ctx.loads.inflight(m.id) >= route.service.concurrency.hardLimit) { this.refuseHosted('at-limit'); return }
    this.machine = m
    const now = ctx.now()
    ctx.loads.acquire(m.id, now, true)
    const key = `${m.id}/${m.instanceId}/${route.service.internalPort}`
    const pooled = ctx.pool.take(key)
    if (pooled !== undefined) { this.attach(pooled); return }
    ctx.connector.connect({ machine: m, port: route.service.internalPort, host: undefined }, this.clientIp, now).then(socket => {
      if (this.state === S.Closed || this.machine !== m) { socket.destroy(); return }
      this.attach(new UpstreamConn(socket, key, m.id))
    }, (err: Error) => {
      if (this.state === S.Closed || this.machine !== m) return
      ctx.loads.release(m.id, ctx.now(), true)
      this.machine = null
      ctx.log.debug({ machine: m.id, err: err.message }, 'backhauled request: machine not connectable')
      this.refuseHosted('connect-failed')
    })
  }

  private refuseHosted (reason: 'no-machine' | 'at-limit' | 'connect-failed'): void {
    if (this.state === S.Closed) return
    this.ctx.hostedRefusals.count++
    this.client.write(`HTTP/1.1 503 Service Unavailable\r\n${BACKHAUL_REFUSED}: ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`)
    this.close()
  }

  private redirectHttps (head: RequestHead): void {
    const host = head.host === null ? '' : hostnameOf(head.host)
    const target = head.target.startsWith('/') ? head.target : '/'
    const close = !head.keepAlive || head.framing.kind !== 'none'
    this.ctx.loads.count(this.route?.app.app ?? '-', '3xx')
    this.client.write(`HTTP/1.1 301 Moved Permanently\r\nlocation: https://${host.includes(':') ? `[${host}]` : host}${target}\r\ncontent-length: 0\r\nroost-request-id: ${this.requestId}\r\n${close ? 'connection: close\r\n' : ''}\r\n`)
    if (close) this.close()
    else this.nextRequest()
  }

  /** Picks a machine for the current request and connects (or reuses a pooled connection). */
  private dispatch (): void {
    const ctx = this.ctx
    const route = this.route
    if (route === null || this.state === S.Closed) return
    if (this.entry.hosted !== undefined) { this.dispatchHosted(this.entry.hosted.machine); return }
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
    ctx.connector.connect({ machine: m, port, host: c.host }, this.clientIp, now, route.port.proxyProto === 0 ? 'http' : 'tcp').then(socket => {
      if (this.state === S.Closed || this.machine !== m) { socket.destroy(); return }
      const up = new UpstreamConn(socket, key, m.id)
      if (route.port.proxyProto !== 0) {
        const local = this.client.localAddress ?? ''
        socket.write(proxyHeader(route.port.proxyProto, { clientAddress: this.clientIp, clientPort: this.clientPort, localAddress: local, localPort: this.entry.listener.port }))
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
        const pick = pickMachines({ table, app: appRoute, service, inflight: this.ctx.loadOf, hints: this.hints })
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

  private attach (up: UpstreamConn): void {
    this.up = up
    up.owner = this
    up.uses++
    this.resState = R.Head
    this.upBuf = null
    this.upScan = 0
    this.res = null
    this.resDeadline = this.ctx.now() + this.ctx.limits.responseTimeoutMs
    const head = this.fwdHead as ForwardHead
    const socket = up.socket
    // Body bytes already here follow the head in the same writev.
    const corked = this.framer !== null && (this.resend || this.buf !== null)
    if (corked) socket.cork()
    socket.write(joinHead(head.base, this.fwdFixed, this.replaySrc === null ? this.fwdLines : `${this.fwdLines}roost-replay-src: ${this.replaySrc}\r\n`))
    if (this.resend) {
      for (const b of this.bodyCopy ?? []) socket.write(b)
      this.state = this.framer === null || this.framer.done ? S.Await : S.Body
    } else {
      this.state = this.framer === null ? S.Await : S.Body
    }
    const stash = this.buf
    if (this.state === S.Body && stash !== null) {
      this.buf = null
      this.feedBody(stash)
    }
    if (corked) socket.uncork()
    if ((this.state as S) !== S.Closed && (this.buf === null || this.buf.byteLength <= MAX_STASH_BYTES)) this.resumeClient()
  }

  private feedBody (chunk: Buffer): void {
    const framer = this.framer as BodyFramer
    let n: number
    try {
      n = framer.push(chunk)
    } catch (err) {
      this.ctx.log.debug({ client: this.clientIp, err: (err as Error).message }, 'malformed request body refused')
      this.fail('PR10', true, (err as Error).message)
      return
    }
    const part = n === chunk.byteLength ? chunk : chunk.subarray(0, n)
    if (this.bodyCopy !== null) {
      if (this.bodyCopyBytes + n <= this.ctx.limits.replayBodyBytes) {
        this.bodyCopy.push(part)
        this.bodyCopyBytes += n
      } else {
        this.bodyCopy = null
      }
    }
    if (this.up !== null && n > 0 && !this.up.socket.write(part)) this.pauseClient()
    if (framer.done) {
      this.state = S.Await
      if (n < chunk.byteLength) {
        this.buf = concat(this.buf, chunk.subarray(n))
        if (this.buf.byteLength > MAX_STASH_BYTES) this.pauseClient()
      }
    }
  }

  onUpstreamDrain (): void {
    if (this.state === S.Body || this.state === S.Tunnel) this.resumeClient()
  }

  onUpstreamData (up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.up) return
    if (this.state === S.Tunnel) {
      if (!this.client.write(chunk)) { this.upPaused = true; up.socket.pause() }
      return
    }
    if (this.resState === R.Head) {
      this.upBuf = concat(this.upBuf, chunk)
      this.tryResponseHead()
    } else if (this.resState === R.Body) {
      this.feedResponse(chunk)
    } else {
      up.destroy()
    }
  }

  private tryResponseHead (): void {
    const limits = this.ctx.limits
    for (;;) {
      const buf = this.upBuf
      if (buf === null || buf.byteLength === 0) return
      const end = findHeadEnd(buf, this.upScan)
      if (end < 0) {
        if (buf.byteLength > limits.maxHeadBytes) this.upstreamFailed('PR13', 'response head too large')
        else this.upScan = Math.max(1, buf.byteLength - 3)
        return
      }
      const raw = buf.subarray(0, end)
      const rest = end === buf.byteLength ? null : buf.subarray(end)
      this.upBuf = rest
      this.upScan = 0
      const parsed = parseResponseHead(raw, limits, this.req?.method ?? 'GET')
      if (parsed.kind !== 'done') {
        this.upstreamFailed('PR13', parsed.kind === 'error' ? parsed.reason : 'incomplete response head')
        return
      }
      const res = parsed.head
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        this.client.write(raw)
        continue
      }
      this.resDeadline = 0
      if (!this.hosted) {
        const refused = res.headers.get(BACKHAUL_REFUSED)
        if (refused !== undefined && this.machine !== null && !this.machine.local) { this.refusedByHost(refused); return }
        const replay = res.headers.get(REPLAY)
        if (replay !== undefined) { this.replay(replay); return }
      }
      this.startResponse(res, raw, rest)
      return
    }
  }

  private startResponse (res: ResponseHead, raw: Buffer, rest: Buffer | null): void {
    const req = this.req as RequestHead
    const m = this.machine as MachineRoute
    this.res = res
    const upgrading = res.status === 101 && req.upgrade !== null
    this.closeAfter = !upgrading && (!req.keepAlive || res.framing.kind === 'close' || this.clientEnded)
    const connection = upgrading ? 'upgrade' : this.closeAfter ? 'close' : req.version === 0 ? 'keep-alive' : null
    this.ctx.loads.count(this.route?.app.app ?? '-', STATUS_CLASS[Math.floor(res.status / 100)] ?? 'other')
    const head = this.hosted
      // The edge router decorates the response; over the backhaul it goes as the machine sent it.
      ? null
      : forwardResponseHead(raw, res, responseDropper(res, upgrading)).base
    const lines = head === null ? '' : responseHeaderLines(this.requestId, m.region, connection)
    if (upgrading) {
      this.client.write(head === null ? raw : joinHead(head, null, lines))
      this.startTunnel(rest)
      return
    }
    this.resFramer = res.framing.kind === 'length' ? lengthFramer(res.framing.length) : res.framing.kind === 'chunked' ? chunkedFramer() : null
    if (res.framing.kind === 'none' || (this.resFramer !== null && this.resFramer.done)) {
      this.client.write(head === null ? raw : joinHead(head, null, lines))
      this.resState = R.Done
      this.finishExchange(rest === null)
      return
    }
    this.resState = R.Body
    if (rest !== null && rest.byteLength <= JOIN_BODY_MAX) {
      // Head and the body bytes that came with it: one buffer, one write (one packet through a tunnel).
      this.feedResponse(rest, (part) => head === null ? Buffer.concat([raw, part]) : joinHead(head, null, lines, part))
      return
    }
    this.client.write(head === null ? raw : joinHead(head, null, lines))
    if (rest !== null) this.feedResponse(rest)
  }

  /** Passes body bytes on (through `wrap` the first time, to join them to the head). */
  private feedResponse (chunk: Buffer, wrap: ((part: Buffer) => Buffer) | null = null): void {
    const framer = this.resFramer
    let part = chunk
    let extra = false
    if (framer !== null) {
      let n: number
      try {
        n = framer.push(chunk)
      } catch (err) {
        this.ctx.log.debug({ machine: this.machine?.id, err: (err as Error).message }, 'malformed response body')
        this.abortExchange()
        this.client.destroy()
        return
      }
      if (n < chunk.byteLength) { part = chunk.subarray(0, n); extra = true }
    }
    const flowing = wrap !== null ? this.client.write(wrap(part)) : part.byteLength === 0 || this.client.write(part)
    if (!flowing && this.up !== null && !framer?.done) {
      this.upPaused = true
      this.up.socket.pause()
    }
    if (framer?.done === true) {
      this.resState = R.Done
      this.finishExchange(!extra)
    }
  }

  private startTunnel (rest: Buffer | null): void {
    const m = this.machine as MachineRoute
    this.state = S.Tunnel
    this.resState = R.Done
    let set = this.ctx.tunnels.get(m.id)
    if (set === undefined) { set = new Set(); this.ctx.tunnels.set(m.id, set) }
    set.add(this)
    if (rest !== null) this.client.write(rest)
    const stash = this.buf
    this.buf = null
    if (stash !== null && this.up !== null) this.up.socket.write(stash)
    this.resumeClient()
  }

  /** The machine was cordoned or stopped: a WebSocket gets a close frame (1001 going away). */
  closeTunnel (why: string): void {
    if (this.state !== S.Tunnel) return
    this.ctx.log.debug({ machine: this.machine?.id, why }, 'closing websocket')
    this.client.end(WS_GOING_AWAY)
    this.up?.socket.end()
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
    const replayable = this.framer === null || (this.framer.done && this.bodyCopy !== null)
    if (!replayable || this.attempts >= ctx.limits.connectAttempts) { this.fail(reason === 'at-limit' ? 'PR03' : 'PR04', true); return }
    this.resend = true
    this.state = S.Routing
    this.dispatch()
  }

  private replay (value: string): void {
    const ctx = this.ctx
    const m = this.machine as MachineRoute
    const target: ReplayTarget | undefined = parseReplay(value)
    this.abortUpstream()
    if (target === undefined) { this.fail('PR08', true, 'unreadable roost-replay header'); return }
    this.hops++
    if (this.hops > ctx.limits.maxReplayHops) { this.fail('PR06', true); return }
    if (this.framer !== null && (this.bodyCopy === null || !this.framer.done)) { this.fail('PR07', true); return }
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
    this.resend = true
    this.attempts = 0
    this.state = S.Routing
    ctx.log.debug({ from: m.id, target }, 'replaying request')
    this.dispatch()
  }

  onUpstreamEnd (up: UpstreamConn): void {
    if (up !== this.up) return
    if (this.state === S.Tunnel) { this.client.end(); return }
    if (this.resState === R.Head) {
      const fresh = up.uses <= 1
      const replayable = this.framer === null || (this.framer.done && this.bodyCopy !== null)
      if (!fresh && replayable && (this.upBuf === null || this.upBuf.byteLength === 0)) {
        this.abortUpstream()
        this.resend = true
        this.state = S.Routing
        this.dispatch()
        return
      }
      const m = this.machine
      if (m !== null && replayable && this.upBuf === null && this.ctx.now() < this.wokeUntil) {
        this.abortUpstream()
        this.resend = true
        this.state = S.Routing
        this.retryWoken(m, 'closed before a response')
        return
      }
      // A fresh connection that closed with no answer: an idempotent request may be sent to
      // another machine (RFC 9110 §9.2.2), as HAProxy's retry-on empty-response does.
      if (m !== null && !this.hosted && replayable && (this.upBuf === null || this.upBuf.byteLength === 0) &&
        IDEMPOTENT.has(this.req?.method ?? '') && this.attempts < this.ctx.limits.connectAttempts && this.otherCandidate(m.id)) {
        this.abortUpstream()
        this.ctx.log.debug({ machine: m.id }, 'machine closed before answering; next candidate')
        ;(this.exclude ??= new Set()).add(m.id)
        this.resend = true
        this.state = S.Routing
        this.dispatch()
        return
      }
      this.upstreamFailed('PR09', 'closed before a response')
      return
    }
    if (this.resState === R.Body && this.resFramer === null) {
      this.resState = R.Done
      this.finishExchange(false)
      return
    }
    this.abortExchange()
    this.client.destroy()
  }

  onUpstreamError (up: UpstreamConn, err: Error): void {
    if (up !== this.up) return
    this.ctx.log.debug({ machine: up.machine, err: err.message }, 'machine connection failed')
    this.onUpstreamEnd(up)
  }

  /** Whether a machine other than `except` (and those already tried) could take the request now. */
  private otherCandidate (except: string): boolean {
    const route = this.route
    if (route === null) return false
    const exclude = new Set(this.exclude ?? [])
    exclude.add(except)
    return pickMachines({ table: this.ctx.table, app: route.app, service: route.service, inflight: this.ctx.loadOf, hints: this.hints, exclude }).order.length > 0
  }

  private upstreamFailed (code: ResultCode, why: string): void {
    this.ctx.log.debug({ machine: this.machine?.id, why }, 'bad answer from machine')
    if (this.res !== null) { this.abortExchange(); this.client.destroy(); return }
    this.fail(code, true, why)
  }

  /** Releases the machine connection: back to the pool when it can carry another request. */
  private finishExchange (reusable: boolean): void {
    const ctx = this.ctx
    const up = this.up
    const m = this.machine
    this.up = null
    this.machine = null
    if (up !== null) {
      up.owner = null
      if (this.upPaused) { this.upPaused = false; up.socket.resume() }
      if (reusable && this.res?.keepAlive === true && this.route?.port.proxyProto === 0 && !up.closed) ctx.pool.give(up, ctx.now())
      else up.destroy()
    }
    if (m !== null) ctx.loads.release(m.id, ctx.now(), this.hosted)
    if (this.closeAfter || this.clientEnded) { this.close(); return }
    this.nextRequest()
  }

  private nextRequest (): void {
    this.req = null
    this.res = null
    this.framer = null
    this.resFramer = null
    this.bodyCopy = null
    this.fwdHead = null
    this.state = S.Head
    this.deadline = this.ctx.now() + this.ctx.limits.idleTimeoutMs
    this.resumeClient()
    if (this.buf !== null && this.buf.byteLength > 0) this.tryHead()
  }

  private abortUpstream (): void {
    const up = this.up
    const m = this.machine
    this.up = null
    this.machine = null
    if (up !== null) up.destroy()
    if (m !== null) this.ctx.loads.release(m.id, this.ctx.now(), this.hosted)
  }

  private abortExchange (): void {
    if (this.waiter !== null) { this.ctx.waiters.remove(this.waiter); this.waiter = null }
    if (this.state === S.Tunnel || this.machine !== null) {
      const set = this.machine === null ? undefined : this.ctx.tunnels.get(this.machine.id)
      set?.delete(this)
    }
    this.abortUpstream()
  }

  /** Answers with the router's own error; closes when the rest of the stream cannot be trusted. */
  private fail (code: ResultCode, close: boolean, detail?: string, status?: number): void {
    if (this.state === S.Closed) return
    this.abortExchange()
    this.ctx.loads.count(this.route?.app.app ?? '-', code)
    const opts = { close: close || this.clientEnded, ...(this.requestId === '' ? {} : { requestId: this.requestId }), ...(detail === undefined ? {} : { detail }), ...(status === undefined ? {} : { status }) }
    this.client.write(errorResponse(code, opts))
    if (opts.close) this.close()
    else this.nextRequest()
  }

  private close (): void {
    if (this.state === S.Closed) return
    this.state = S.Closed
    this.abortExchange()
    this.ctx.connections.delete(this)
    this.client.destroySoon()
  }
}
