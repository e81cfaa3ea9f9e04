import type { Socket } from 'node:net'
import { HttpConnection, S } from './http-connection.js'
import type { RequestHead } from './http/head-types.js'
import type { ProxyContext } from './proxy-context.js'
import { createUpstreamReader, UpstreamConn } from './upstream-pool.js'

/** What a router answers over a backhaul when a machine cannot take a request (the edge retries elsewhere). */
export const BACKHAUL_REFUSED = 'roost-backhaul-refused'

/** The machine a backhaul is for, from its header. */
export interface HostedTarget { app: string, machine: string, port: number }

/**
 * A backhaul from another host's router, carrying HTTP requests for one of this host's
 * machines, already decorated by that router and passed on unchanged. Every request to a
 * machine passes through its own host's router, so admission against the machine's hard limit
 * happens here, counting every router's traffic to it; a request that cannot be admitted (or
 * whose machine is gone or not connectable) is answered with a `roost-backhaul-refused` 503
 * before any byte of it reaches the machine, so the other router can send it elsewhere.
 */
export class HostedHttpConnection extends HttpConnection {
  constructor (ctx: ProxyContext, client: Socket, private readonly target: HostedTarget) {
    super(ctx, client, true)
  }

  protected startRequest (_head: RequestHead, raw: Buffer): void {
    const app = this.ctx.table.apps[this.target.app]
    const service = app?.services.find(x => x.internalPort === this.target.port)
    if (app === undefined || service === undefined) { this.refuse('no-machine'); return }
    this.route = { app, service, port: service.ports[0] ?? { port: this.target.port, tls: false, http: true, proxyProto: 0, forceHttps: false, alpn: [] } }
    this.fwdHead = { base: raw.subarray(0, raw.byteLength - 2), dropped: false }
    this.fwdLines = ''
    this.fwdFixed = null
    this.bodyCopy = null
    this.state = S.Routing
    this.dispatch()
  }

  protected dispatch (): void {
    const ctx = this.ctx
    const route = this.route
    if (route === null || this.state === S.Closed) return
    const m = route.app.machines.find(x => x.id === this.target.machine)
    if (m === undefined || !m.local || m.state !== 'started') { this.refuse('no-machine'); return }
    if (ctx.loads.inflight(m.id) >= route.service.concurrency.hardLimit) { this.refuse('at-limit'); return }
    this.machine = m
    const now = ctx.now()
    ctx.loads.acquire(m.id, now, true)
    const key = `${m.id}/${m.instanceId}/${route.service.internalPort}`
    const pooled = this.resend ? undefined : ctx.pool.take(key)
    if (pooled !== undefined) { this.attach(pooled); return }
    const reader = createUpstreamReader()
    ctx.connector.connect({ machine: m, port: route.service.internalPort, host: undefined }, this.clientIp, now, 'tcp', reader.onread).then(socket => {
      if (this.state === S.Closed || this.machine !== m) { socket.destroy(); return }
      this.attach(new UpstreamConn(socket, key, m.id, reader))
    }, (err: Error) => {
      if (this.state === S.Closed || this.machine !== m) return
      ctx.loads.release(m.id, ctx.now(), true)
      this.machine = null
      ctx.log.debug({ machine: m.id, err: err.message }, 'backhauled request: machine not connectable')
      this.refuse('connect-failed')
    })
  }

  /** Over a backhaul the response goes as the machine sent it: the edge router decorates it. */
  protected decorate (): null {
    return null
  }

  private refuse (reason: 'no-machine' | 'at-limit' | 'connect-failed'): void {
    if (this.state === S.Closed) return
    this.ctx.hostedRefusals.count++
    this.client.write(`HTTP/1.1 503 Service Unavailable\r\n${BACKHAUL_REFUSED}: ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`)
    this.close()
  }
}
