import type { Socket } from 'node:net'
import type { Route } from './app-match.js'
import type { ForwardHead } from './forward-head.js'
import { joinHead, JOIN_BODY_MAX } from './head-bytes.js'
import { chunkedFramer, lengthFramer, type BodyFramer } from './http/body-framer.js'
import { findHeadEnd } from './http/head-end.js'
import type { RequestHead, ResponseHead } from './http/head-types.js'
import { parseRequestHead } from './http/request-head.js'
import { parseResponseHead } from './http/response-head.js'
import { unmapIPv4 } from './proxy-protocol.js'
import type { ProxyContext } from './proxy-context.js'
import { errorResponse, type ResultCode } from './result-codes.js'
import type { MachineRoute } from './route-table.js'
import type { UpstreamConn, UpstreamOwner } from './upstream-pool.js'
import type { Waiter } from './waiters.js'
import { WS_GOING_AWAY } from './ws-close.js'
import { WsFrameTracker } from './ws-frames.js'
import type { RouterHandler } from './router-counters.js'

/** Where a client connection is in its current exchange. */
export const enum S { Head, Routing, Body, Await, Tunnel, Closed }
/** Where the machine's answer is. */
export const enum R { Head, Body, Done }

/** Client bytes buffered while a request is being routed or answered, before reading pauses. */
const MAX_STASH_BYTES = 64 * 1024
const TUNNEL_CLOSE_WAIT_MS = 1000
const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx']

export function concat (a: Buffer | null, b: Buffer): Buffer {
  return a === null || a.byteLength === 0 ? b : Buffer.concat([a, b])
}

/** How the response head is forwarded: the kept lines and the router's own, or as received (null). */
export interface ResponseDecoration { head: Buffer, lines: string }

/**
 * The HTTP/1.1 engine under both kinds of router connection: request heads parsed strictly on
 * the raw socket (RFC 9112), bodies framed and moved as they are, one request at a time over a
 * pooled keep-alive connection to a machine, the machine's response head parsed and its body
 * passed back with backpressure, WebSocket upgrades turned into tunnels, timeouts for slow
 * clients and silent machines. Subclasses decide where each request goes and what is added:
 * EdgeHttpConnection (clients of a public port) and HostedHttpConnection (backhauls from other
 * routers to this host's machines).
 */
export abstract class HttpConnection implements UpstreamOwner {
  protected state = S.Head
  protected buf: Buffer | null = null
  private scanFrom = 0
  private deadline = 0
  protected readonly clientIp: string
  protected readonly clientPort: number
  protected clientEnded = false
  private paused = false

  protected req: RequestHead | null = null
  protected route: Route | null = null
  protected fwdHead: ForwardHead | null = null
  /** The request's own added lines (request id, X-Forwarded-For, …) after `fwdFixed`. */
  protected fwdLines = ''
  /** The connection's fixed lines for the current request (null: nothing added). */
  protected fwdFixed: Buffer | null = null
  protected framer: BodyFramer | null = null
  /** The request body kept for a resend (null: none, or over the limit). */
  protected bodyCopy: Buffer[] | null = null
  private bodyCopyBytes = 0
  protected requestId = ''
  /** The next attempt must use a fresh connection and send the kept body again. */
  protected resend = false
  protected waiter: Waiter | null = null

  protected up: UpstreamConn | null = null
  protected machine: MachineRoute | null = null
  protected upBuf: Buffer | null = null
  private upScan = 0
  protected res: ResponseHead | null = null
  private resState = R.Head
  private resFramer: BodyFramer | null = null
  private resDeadline = 0
  private closeAfter = false
  private upPaused = false
  private wsFrames: WsFrameTracker | null = null
  private tunnelCloseBy = 0
  /** performance.now() at the current request's first byte (for its latency). */
  protected reqStart = 0
  protected readonly handler: RouterHandler

  constructor (protected readonly ctx: ProxyContext, protected readonly client: Socket, private readonly hosted: boolean) {
    this.clientIp = unmapIPv4(client.remoteAddress ?? '')
    this.clientPort = client.remotePort ?? 0
    this.handler = hosted ? 'backhaul' : (client as { encrypted?: boolean }).encrypted === true ? 'https' : 'http'
    this.deadline = ctx.now() + ctx.limits.idleTimeoutMs
    ctx.connections.add(this)
    client.on('data', this.onClientData)
    client.on('end', this.onClientEnd)
    client.on('error', this.onClientClose)
    client.on('close', this.onClientClose)
    client.on('drain', this.onClientDrain)
  }

  /** A request head arrived: route it (or answer it) and call `dispatch`. */
  protected abstract startRequest (head: RequestHead, raw: Buffer): void
  /** Finds a machine connection for the current request and `attach`es it (or answers). */
  protected abstract dispatch (): void
  /** How the response head goes to the client (null: as the machine sent it). */
  protected abstract decorate (res: ResponseHead, raw: Buffer, upgrading: boolean, connection: 'close' | 'keep-alive' | 'upgrade' | null): ResponseDecoration | null
  /** A response head the subclass takes over instead of passing on (replay, refusal); true when it did. */
  protected intercept (_res: ResponseHead): boolean { return false }
  /** The machine closed before answering: true when the subclass sent the request elsewhere. */
  protected retryUnanswered (_m: MachineRoute, _replayable: boolean): boolean { return false }
  /** Lines added after the request's own ones when it is sent (e.g. where a replay came from). */
  protected sendLines (): string { return this.fwdLines }

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

  protected pauseClient (): void {
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
    } else if (this.state === S.Tunnel && this.tunnelCloseBy !== 0 && now > this.tunnelCloseBy) {
      this.endTunnel(false)
    }
  }

  destroy (): void {
    this.onClientClose()
  }

  /** The current machine's host is no longer alive (only the edge acts on it: see EdgeHttpConnection). */
  hostLost (_machines: ReadonlySet<string>): void {}

  /** The request went to the machine and nothing of an answer has come back. */
  protected unanswered (): boolean {
    return (this.state === S.Await || this.state === S.Body) && this.up !== null && this.resState === R.Head && (this.upBuf === null || this.upBuf.byteLength === 0)
  }

  private tryHead (): void {
    const buf = this.buf
    if (buf === null || buf.byteLength === 0) return
    const limits = this.ctx.limits
    if (this.scanFrom === 0) {
      this.deadline = this.ctx.now() + limits.headTimeoutMs
      this.reqStart = performance.now()
    }
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
    this.deadline = 0
    this.req = parsed.head
    this.framer = parsed.head.framing.kind === 'length' ? lengthFramer(parsed.head.framing.length) : parsed.head.framing.kind === 'chunked' ? chunkedFramer() : null
    this.bodyCopyBytes = 0
    this.resend = false
    this.startRequest(parsed.head, raw)
  }

  /** Sends the current request over `up` (a pooled or fresh machine connection). */
  protected attach (up: UpstreamConn): void {
    this.up = up
    up.owner = this
    up.uses++
    this.resState = R.Head
    this.upBuf = null
    this.upScan = 0
    this.res = null
    this.resDeadline = this.ctx.now() + this.ctx.limits.responseTimeoutMs
    const fwd = this.fwdHead as ForwardHead
    const socket = up.socket
    // Body bytes already here follow the head in the same writev.
    const corked = this.framer !== null && (this.resend || this.buf !== null)
    if (corked) socket.cork()
    socket.write(joinHead(fwd.base, this.fwdFixed, this.sendLines()))
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

  /** Whether the request can be sent again (no body, or its body complete and kept). */
  protected replayable (): boolean {
    return this.framer === null || (this.framer.done && this.bodyCopy !== null)
  }

  onUpstreamDrain (): void {
    if (this.state === S.Body || this.state === S.Tunnel) this.resumeClient()
  }

  holdsReadBytes (): boolean {
    return this.client.writableLength > 0
  }

  onUpstreamData (up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.up) return
    if (this.state === S.Tunnel) {
      if (this.tunnelCloseBy !== 0) { this.feedClosingTunnel(chunk); return }
      this.wsFrames?.feed(chunk)
      if (!this.client.write(chunk)) { this.upPaused = true; up.socket.pause() }
      return
    }
    if (this.resState === R.Head) {
      this.upBuf = concat(this.upBuf, chunk)
      this.tryResponseHead()
      // A head still incomplete keeps its bytes across reads: its own copy, not the read buffer's.
      if (this.upBuf !== null && this.upBuf.buffer === chunk.buffer) this.upBuf = Buffer.from(this.upBuf)
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
      if (this.intercept(res)) return
      this.startResponse(res, raw, rest)
      return
    }
  }

  private startResponse (res: ResponseHead, raw: Buffer, rest: Buffer | null): void {
    const req = this.req as RequestHead
    this.res = res
    const upgrading = res.status === 101 && req.upgrade !== null
    this.closeAfter = !upgrading && (!req.keepAlive || res.framing.kind === 'close' || this.clientEnded)
    const connection = upgrading ? 'upgrade' : this.closeAfter ? 'close' : req.version === 0 ? 'keep-alive' : null
    this.ctx.answered(this.route?.app.app ?? '-', this.handler, STATUS_CLASS[Math.floor(res.status / 100)] ?? 'other', this.reqStart)
    const d = this.decorate(res, raw, upgrading, connection)
    const headBytes = (): Buffer => d === null ? raw : joinHead(d.head, null, d.lines)
    if (upgrading) {
      this.client.write(headBytes())
      this.startTunnel(rest)
      return
    }
    this.resFramer = res.framing.kind === 'length' ? lengthFramer(res.framing.length) : res.framing.kind === 'chunked' ? chunkedFramer() : null
    if (res.framing.kind === 'none' || (this.resFramer !== null && this.resFramer.done)) {
      this.client.write(headBytes())
      this.resState = R.Done
      this.finishExchange(rest === null)
      return
    }
    this.resState = R.Body
    if (rest !== null && rest.byteLength <= JOIN_BODY_MAX) {
      // Head and the body bytes that came with it: one buffer, one write (one packet through a tunnel).
      this.feedResponse(rest, (part) => d === null ? Buffer.concat([raw, part]) : joinHead(d.head, null, d.lines, part))
      return
    }
    this.client.write(headBytes())
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
    if ((this.req as RequestHead).upgrade === 'websocket') this.wsFrames = new WsFrameTracker()
    if (rest !== null) {
      this.wsFrames?.feed(rest)
      this.client.write(rest)
    }
    const stash = this.buf
    this.buf = null
    if (stash !== null && this.up !== null) this.up.socket.write(stash)
    this.resumeClient()
  }

  /**
   * The machine was cordoned or stopped: a WebSocket gets a close frame (1001 going away), sent
   * between two of the machine's frames and only if the machine (or the router it came through)
   * has not sent its own; a frame half sent gets up to a second to finish.
   */
  closeTunnel (why: string): void {
    if (this.state !== S.Tunnel || this.tunnelCloseBy !== 0) return
    this.ctx.log.debug({ machine: this.machine?.id, why }, 'closing websocket')
    this.tunnelCloseBy = this.ctx.now() + TUNNEL_CLOSE_WAIT_MS
    const ws = this.wsFrames
    if (ws === null || ws.closeSent) this.endTunnel(false)
    else if (ws.atBoundary()) this.endTunnel(true)
    else if (this.upPaused && this.up !== null) { this.upPaused = false; this.up.socket.resume() }
  }

  private feedClosingTunnel (chunk: Buffer): void {
    const ws = this.wsFrames as WsFrameTracker
    const n = ws.feed(chunk, true)
    if (n > 0) this.client.write(n === chunk.length ? chunk : chunk.subarray(0, n))
    if (ws.atBoundary()) this.endTunnel(!ws.closeSent)
  }

  private endTunnel (goingAway: boolean): void {
    if (this.state !== S.Tunnel) return
    this.state = S.Closed
    this.abortExchange()
    this.ctx.connections.delete(this)
    this.resumeClient()
    if (goingAway) this.client.end(WS_GOING_AWAY)
    else this.client.end()
  }

  onUpstreamEnd (up: UpstreamConn): void {
    if (up !== this.up) return
    if (this.state === S.Tunnel) { this.client.end(); return }
    if (this.resState === R.Head) {
      const replayable = this.replayable()
      const unanswered = this.upBuf === null || this.upBuf.byteLength === 0
      // A kept-alive connection the machine closed just as it was reused: again on a fresh one.
      if (up.uses > 1 && replayable && unanswered) {
        this.sendAgain()
        this.dispatch()
        return
      }
      const m = this.machine
      if (m !== null && unanswered && this.retryUnanswered(m, replayable)) return
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

  /** Drops the current machine connection; the next attempt resends the request on a fresh one. */
  protected sendAgain (): void {
    this.abortUpstream()
    this.resend = true
    this.state = S.Routing
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

  protected nextRequest (): void {
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

  protected abortUpstream (): void {
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
  protected fail (code: ResultCode, close: boolean, detail?: string, status?: number): void {
    if (this.state === S.Closed) return
    this.abortExchange()
    this.ctx.answered(this.route?.app.app ?? '-', this.handler, code, this.reqStart === 0 ? performance.now() : this.reqStart)
    this.ctx.routerErrors.note(this.route?.app.app ?? '-', code, this.ctx.now(), detail)
    const opts = { close: close || this.clientEnded, ...(this.requestId === '' ? {} : { requestId: this.requestId }), ...(detail === undefined ? {} : { detail }), ...(status === undefined ? {} : { status }) }
    this.client.write(errorResponse(code, opts))
    if (opts.close) this.close()
    else this.nextRequest()
  }

  protected close (): void {
    if (this.state === S.Closed) return
    this.state = S.Closed
    this.abortExchange()
    this.ctx.connections.delete(this)
    this.client.destroySoon()
  }
}
