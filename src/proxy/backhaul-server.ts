import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Codec } from '../codec/codec.js'
import type { Logger } from '../log/logger.js'
import { BackhaulStatus, createNonceCache, readBackhaulHeader, verifyBackhaulHeader, type BackhaulHeader } from './backhaul-header.js'
import type { LoadTracker } from './load-tracker.js'
import { unmapIPv4 } from './proxy-protocol.js'
import type { RouteTable } from './route-table.js'
import { localAddress } from './upstream.js'
import { relayReader } from './relay-reader.js'
import type { ByteMeter } from './byte-meter.js'

export const BACKHAUL_HEADER_TIMEOUT_MS = 5_000

export interface BackhaulServerInit {
  backhaulKey: Buffer
  connectTimeoutMs: number
}

export interface BackhaulServerComponents {
  /** Takes over an `http` backhaul once it is accepted (the data plane's HTTP engine, admitting each request on its own). */
  http: (socket: Socket, header: BackhaulHeader, rest: Buffer) => void
  codec: Codec
  logger: Logger
  loads: LoadTracker
  table: () => RouteTable
  now: () => number
  /** Counts the bytes of every backhaul connection accepted here. */
  meter: ByteMeter
}

/** The receiving end of backhauls: other hosts' routers reaching this host's machines. */
export interface BackhaulServer {
  /**
   * Listens on `address:port`. `checkSource`: the tunnel authenticates peers, so a connection
   * must also come from the backhaul address its claimed host publishes (its mesh address).
   */
  listen: (address: string, port: number, checkSource: boolean) => Promise<{ address: string, port: number }>
  close: () => Promise<void>
  address: () => { address: string, port: number } | null
  stats: () => { accepted: number, refused: number, open: number }
}

export function createBackhaulServer (init: BackhaulServerInit, components: BackhaulServerComponents): BackhaulServer {
  const { codec, logger, loads } = components
  const nonces = createNonceCache()
  const open = new Set<Socket>()
  const stats = { accepted: 0, refused: 0 }
  let server: Server | null = null
  let checkSource = false

  const refuse = (s: Socket, status: number, why: string, h?: BackhaulHeader): void => {
    stats.refused++
    const level = status === BackhaulStatus.AT_LIMIT ? 'debug' : 'warn'
    logger[level]({ remote: s.remoteAddress, from: h?.from.slice(0, 12), machine: h?.machine, why }, 'backhaul refused')
    s.end(Buffer.from([status]))
    s.destroySoon()
  }

  const accept = (s: Socket, h: BackhaulHeader, rest: Buffer): void => {
    const table = components.table()
    const app = table.apps[h.app]
    const m = app?.machines.find(x => x.id === h.machine)
    if (m === undefined || !m.local || m.state !== 'started') { refuse(s, BackhaulStatus.NO_MACHINE, `machine ${h.machine} is not started here`, h); return }
    const addr = localAddress(m, h.port)
    if (addr === null) { refuse(s, BackhaulStatus.NO_MACHINE, `machine ${h.machine} has no endpoint for port ${h.port}`, h); return }
    if (h.mode === 'http') {
      stats.accepted++
      open.delete(s)
      s.write(Buffer.from([BackhaulStatus.OK]))
      components.http(s, h, rest)
      return
    }
    // A connection counts against the machine's hard limit here, where every router's traffic to it arrives.
    const service = app?.services.find(x => x.internalPort === h.port)
    if (service !== undefined && loads.inflight(m.id) >= service.concurrency.hardLimit) {
      refuse(s, BackhaulStatus.AT_LIMIT, `machine ${h.machine} is at its hard limit (${service.concurrency.hardLimit})`, h)
      return
    }
    // The machine's bytes are read into reused buffers and written straight to the backhaul.
    const up = connect({ host: addr.host, port: addr.port, noDelay: true, onread: relayReader(() => s.destroyed ? null : s) })
    const timer = setTimeout(() => { up.destroy(new Error('connect timed out')) }, init.connectTimeoutMs)
    let connected = false
    up.once('connect', () => {
      connected = true
      clearTimeout(timer)
      stats.accepted++
      loads.backhaulOpened(m.id, components.now())
      loads.acquire(m.id, components.now(), true)
      let finished = false
      const done = (): void => {
        if (finished) return
        finished = true
        open.delete(s)
        loads.backhaulClosed(m.id, components.now())
        loads.release(m.id, components.now(), true)
        s.destroy()
        up.destroy()
      }
      s.on('close', done)
      up.on('close', done)
      s.write(Buffer.from([BackhaulStatus.OK]))
      if (rest.byteLength > 0) up.write(rest)
      s.pipe(up)
      up.on('end', () => { s.end() })
      s.on('drain', () => { up.read(0) })
      s.resume()
    })
    up.on('error', (err) => {
      clearTimeout(timer)
      if (!connected) refuse(s, BackhaulStatus.CONNECT_FAILED, err.message, h)
      else s.destroy()
    })
  }

  const onConnection = (s: Socket): void => {
    s.setNoDelay(true)
    open.add(s)
    let buf: Buffer | null = null
    const timer = setTimeout(() => { refuse(s, BackhaulStatus.MALFORMED, 'no header in time') }, BACKHAUL_HEADER_TIMEOUT_MS)
    const onData = (chunk: Buffer): void => {
      buf = buf === null ? chunk : Buffer.concat([buf, chunk])
      const r = readBackhaulHeader(codec, buf)
      if (r.kind === 'incomplete') return
      clearTimeout(timer)
      s.off('data', onData)
      s.pause()
      if (r.kind === 'bad') { refuse(s, BackhaulStatus.MALFORMED, r.reason); return }
      const h = r.header
      const why = verifyBackhaulHeader(init.backhaulKey, h, components.now(), nonces)
      if (why !== undefined) { refuse(s, BackhaulStatus.AUTH, why, h); return }
      if (checkSource) {
        const expected = components.table().hosts[h.from]?.backhaul?.address
        if (expected === undefined || unmapIPv4(s.remoteAddress ?? '') !== unmapIPv4(expected)) {
          refuse(s, BackhaulStatus.AUTH, `source ${s.remoteAddress ?? '?'} is not the mesh address of ${h.from.slice(0, 12)}`, h)
          return
        }
      }
      accept(s, h, buf.subarray(r.consumed))
    }
    s.on('data', onData)
    s.on('error', () => { s.destroy() })
    s.on('close', () => { clearTimeout(timer); open.delete(s) })
    components.meter.track(s)
  }

  return {
    async listen (address, port, check) {
      if (server !== null) await new Promise<void>(resolve => { server?.close(() => { resolve() }) })
      checkSource = check
      const srv = createServer({ noDelay: true, pauseOnConnect: false }, onConnection)
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen({ host: address, port }, () => { srv.off('error', reject); resolve() })
      })
      srv.on('error', (err) => { logger.error({ err }, 'backhaul listener failed') })
      server = srv
      const a = srv.address()
      return typeof a === 'object' && a !== null ? { address: a.address, port: a.port } : { address, port }
    },
    async close () {
      const srv = server
      server = null
      for (const s of open) s.destroy()
      open.clear()
      if (srv !== null) await new Promise<void>(resolve => { srv.close(() => { resolve() }) })
    },
    address () {
      const a = server?.address()
      return typeof a === 'object' && a !== null ? { address: a.address, port: a.port } : null
    },
    stats: () => ({ ...stats, open: open.size })
  }
}
