import type { Socket } from 'node:net'
import type { Route } from './app-match.js'
import { pickMachines } from './balancer.js'
import { proxyHeader, unmapIPv4 } from './proxy-protocol.js'
import type { ProxyContext } from './proxy-context.js'
import type { ResultCode } from './result-codes.js'
import type { MachineRoute } from './route-table.js'
import type { ConnectFailure } from './upstream.js'
import type { Waiter } from './waiters.js'
import { place } from './placement.js'
import { relayReader } from './relay-reader.js'

const NO_HINTS = {}

/** How soon a machine an autostart woke is tried again while its app is not listening yet. */
const WAKE_RETRY_MS = 100

/**
 * One client connection through a port without the `http` handler (plain TCP, or TLS
 * terminated here): balanced once per connection, then bytes move both ways untouched, after
 * a PROXY protocol header when the port asks for one. A connection that cannot be placed is
 * closed (TCP has no way to say why; the result code is counted and logged).
 */
export class TcpProxyConnection {
  private up: Socket | null = null
  private machine: MachineRoute | null = null
  private exclude: Set<string> | null = null
  private attempts = 0
  private waiter: Waiter | null = null
  private waitUntil = 0
  private closed = false
  /** After waiting for an autostart: until then, a refused connect means the app is still starting. */
  private wokeUntil = 0
  private readonly clientIp: string
  private readonly clientPort: number
  private readonly startedAt = performance.now()

  constructor (private readonly ctx: ProxyContext, private readonly client: Socket, private route: Route) {
    this.clientIp = unmapIPv4(client.remoteAddress ?? '')
    this.clientPort = client.remotePort ?? 0
    ctx.connections.add(this)
    client.pause()
    client.on('error', this.onClose)
    client.on('close', this.onClose)
    this.dispatch()
  }

  private readonly onClose = (): void => {
    if (this.closed) return
    this.closed = true
    this.ctx.connections.delete(this)
    if (this.waiter !== null) { this.ctx.waiters.remove(this.waiter); this.waiter = null }
    this.client.destroy()
    this.up?.destroy()
    this.release()
  }

  sweep (): void {}

  /** A byte stream may be mid-conversation with the machine: it ends when its own sockets do. */
  hostLost (): void {}

  destroy (): void { this.onClose() }

  private release (): void {
    const m = this.machine
    this.machine = null
    if (m !== null) this.ctx.loads.release(m.id, this.ctx.now())
  }

  private fail (code: ResultCode): void {
    this.ctx.answered(this.route.app.app, this.route.port.tls ? 'tls' : 'tcp', code, this.startedAt)
    this.ctx.routerErrors.note(this.route.app.app, code, this.ctx.now())
    this.ctx.log.debug({ app: this.route.app.app, client: this.clientIp, code }, 'tcp connection refused')
    this.onClose()
  }

  private dispatch (): void {
    const ctx = this.ctx
    const { app, service, port } = this.route
    const placed = place(ctx, this.route, NO_HINTS, this.exclude)
    if (placed.kind === 'wait') { this.wait(placed.why === 'capacity' ? 'PR03' : 'PR05', placed.why === 'capacity' ? ctx.limits.queueTimeoutMs : ctx.limits.autostartTimeoutMs); return }
    if (placed.kind === 'fail') { this.fail(placed.code); return }
    const c = placed.candidate
    const m = c.machine
    this.machine = m
    this.attempts++
    const now = ctx.now()
    ctx.loads.acquire(m.id, now)
    // A local machine's bytes are read into reused buffers and written straight to the client.
    const onread = m.local ? relayReader(() => this.closed ? null : this.client) : undefined
    ctx.connector.connect({ machine: m, port: service.internalPort, host: c.host }, this.clientIp, now, 'tcp', onread).then(up => {
      if (this.closed) { up.destroy(); return }
      this.up = up
      if (port.proxyProto !== 0) {
        up.write(proxyHeader(port.proxyProto, { clientAddress: this.clientIp, clientPort: this.clientPort, localAddress: this.client.localAddress ?? '', localPort: port.port }))
      }
      up.on('error', this.onClose)
      up.on('close', this.onClose)
      this.client.pipe(up)
      if (onread === undefined) {
        up.pipe(this.client)
      } else {
        up.on('end', () => { this.client.end() })
        // A full client stopped the reads at the handle (onread's `false`); read(0) starts them again.
        this.client.on('drain', () => { up.read(0) })
      }
      this.client.resume()
      up.resume()
      ctx.answered(app.app, port.tls ? 'tls' : 'tcp', 'connected', this.startedAt)
    }, (err: Error) => {
      if (this.closed) return
      this.release()
      if (ctx.now() < this.wokeUntil) {
        ctx.log.debug({ machine: m.id, err: err.message }, 'woken machine not listening yet; trying again')
        setTimeout(() => { if (!this.closed && this.machine === null) this.dispatch() }, WAKE_RETRY_MS)
        return
      }
      ctx.log.debug({ machine: m.id, err: err.message }, 'connect failed; next candidate')
      // A machine its host refused as full waits for capacity like one known full here; others are skipped.
      if ((err as ConnectFailure).atLimit === true) ctx.saturate(m.id)
      else (this.exclude ??= new Set()).add(m.id)
      if (this.attempts >= ctx.limits.connectAttempts) this.fail('PR04')
      else this.dispatch()
    })
  }

  private wait (code: 'PR03' | 'PR05', timeoutMs: number): void {
    const w: Waiter = {
      app: this.route.app.app,
      deadline: this.waitUntil === 0 ? (this.waitUntil = this.ctx.now() + timeoutMs) : this.waitUntil,
      retry: () => {
        if (this.closed || this.waiter !== w) return true
        const app = this.ctx.table.apps[this.route.app.app]
        const service = app?.services[this.route.service.index]
        if (app === undefined || service === undefined) { this.waiter = null; this.fail('PR02'); return true }
        const pick = pickMachines({ table: this.ctx.table, app, service, inflight: this.ctx.loadOf })
        if (pick.order.length === 0) {
          if (code === 'PR05' && pick.startable > 0 && service.autoStart) this.ctx.requestAutostart(app.app, service.index, 'no-started-machine')
          return false
        }
        if (code === 'PR05') this.wokeUntil = w.deadline
        this.waiter = null
        this.route = { ...this.route, app, service }
        this.dispatch()
        return true
      },
      expire: () => {
        if (this.waiter !== w) return
        this.waiter = null
        this.fail(code)
      }
    }
    this.waiter = w
    this.ctx.waiters.park(w)
  }
}
