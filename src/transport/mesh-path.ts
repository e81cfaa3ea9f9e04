import { EventEmitter } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { Codec } from '../codec/codec.js'
import { encodeFrame, FrameDecoder, DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, readFrameLength, UNADMITTED_MAX_FRAME_BYTES } from '../codec/frame.js'
import { FrameWriter } from '../codec/frame-writer.js'
import { AdmissionError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { ClusterKeys } from './cluster-keys.js'
import { decodeClientHello, decodeClientProof, decodeServerHello, MESH_HELLO, meshProof, newNonce, proofMatches } from './mesh-hello.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'

export const DEFAULT_MESH_PORT = 4281
export const DEFAULT_MESH_CONNECT_TIMEOUT_MS = 3_000
export const DEFAULT_MESH_HELLO_TIMEOUT_MS = 3_000
export const MESH_REDIAL_MS = [100, 250, 500, 1_000, 2_000, 5_000]
const MAINTAIN_EVERY_MS = 100

/**
 * Where a host's end of the mesh listens: its mesh address and TCP port. `ready: false` means
 * its tunnel has no completed handshake yet: connections from it are accepted, but this host
 * does not dial it (a SYN into a tunnel still handshaking is lost and TCP retries only after 1 s).
 */
export interface MeshRoute { address: string, port: number, ready?: boolean }

export interface MeshPathInit {
  hostId: string
  keys: ClusterKeys
  port?: number
  maxFrameBytes?: number
  /** Limit on a frame before the hello is done (default `UNADMITTED_MAX_FRAME_BYTES`). */
  unadmittedMaxFrameBytes?: number
  connectTimeoutMs?: number
  helloTimeoutMs?: number
}

export interface MeshPathComponents { logger: Logger, codec: Codec }

export interface MeshPathEvents {
  frame: (host: string, payload: Buffer) => void
  /** As `frame`, the payload being `bytes[start, end)` (no view made for it); read it before returning. Every frame reaches both kinds of listener. */
  'frame-range': (host: string, bytes: Buffer, start: number, end: number) => void
  'frame-error': (host: string, err: Error) => void
  up: (host: string) => void
  down: (host: string, reason: string) => void
}

/** One connection through the tunnel as `roost mesh` shows it. */
export interface MeshConnectionView { host: string, address: string, initiator: boolean, since: number, framesIn: number, framesOut: number }

/**
 * Connections between hosts' mesh addresses, i.e. through the WireGuard tunnels. The host with
 * the smaller id dials, the other accepts; each connection starts with a three-message hello
 * that proves cluster membership, and is refused unless its source is the mesh address the
 * claimed host announced. Frames are length-prefixed like on every other stream.
 */
export interface MeshPath {
  start: (listenAddress: string) => Promise<void>
  stop: () => Promise<void>
  /** The hosts to keep connections to (replaces the previous set; others are closed). */
  setRoutes: (routes: ReadonlyMap<string, MeshRoute>) => void
  connected: (host: string) => boolean
  /** Writes a payload if a connection to `host` is up; false otherwise. */
  send: (host: string, payload: Uint8Array) => boolean
  /**
   * As `send`, for a payload whose length prefix is written in the 4 bytes before it in its
   * buffer: payloads sent one after another in the same memory are written without a copy.
   * Neither it nor its prefix may change before the next turn.
   */
  sendFramed: (host: string, payload: Uint8Array) => boolean
  /** Closes the connection to `host` (e.g. it stopped acknowledging); it is dialled again later. */
  drop: (host: string, reason: string) => void
  connections: () => MeshConnectionView[]
  listening: () => MeshRoute | undefined
  on: <E extends keyof MeshPathEvents>(event: E, fn: MeshPathEvents[E]) => void
  off: <E extends keyof MeshPathEvents>(event: E, fn: MeshPathEvents[E]) => void
}

interface Conn {
  host: string
  socket: Socket
  writer: FrameWriter
  initiator: boolean
  address: string
  since: number
  framesIn: number
  framesOut: number
}

type RunHandler = (bytes: Buffer, start: number, end: number) => void
type SwitchableDecoder = FrameDecoder & { onRunReplace: (fn: RunHandler) => void }

/** Canonical text of an IP address (IPv4-mapped IPv6 unwrapped), for comparisons. */
export function canonicalIp (a: string): string {
  const bare = a.replace(/^::ffff:(?=\d+\.)/i, '')
  if (!bare.includes(':')) return bare
  try { return new URL(`http://[${bare}]/`).hostname.slice(1, -1) } catch { return bare }
}

export function createMeshPath (init: MeshPathInit, components: MeshPathComponents): MeshPath {
  const { codec } = components
  const log = components.logger.child({ component: 'mesh-path' })
  const logGate = createLogLimiter()
  const events = new EventEmitter()
  const port = init.port ?? DEFAULT_MESH_PORT
  const maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const helloMaxFrameBytes = Math.min(maxFrameBytes, init.unadmittedMaxFrameBytes ?? UNADMITTED_MAX_FRAME_BYTES)
  const conns = new Map<string, Conn>()
  const dialing = new Map<string, Socket>()
  const nextDial = new Map<string, { at: number, attempt: number }>()
  let routes: ReadonlyMap<string, MeshRoute> = new Map()
  let server: Server | undefined
  let listenAt: MeshRoute | undefined
  let timer: NodeJS.Timeout | undefined
  let running = false

  const emit = <E extends keyof MeshPathEvents>(e: E, ...args: Parameters<MeshPathEvents[E]>): void => { events.emit(e, ...args) }
  /** `frame` and `frame-range` listeners, called directly (emit gathers its arguments into an array per call). */
  let frameFns: ReadonlyArray<MeshPathEvents['frame']> = []
  let rangeFns: ReadonlyArray<MeshPathEvents['frame-range']> = []
  const emitFrame = (host: string, bytes: Buffer, start: number, end: number): void => {
    const fns = frameFns
    if (fns.length > 0) {
      const payload = start === 0 && end === bytes.byteLength ? bytes : bytes.subarray(start, end)
      for (let i = 0; i < fns.length; i++) (fns[i] as MeshPathEvents['frame'])(host, payload)
    }
    const rs = rangeFns
    for (let i = 0; i < rs.length; i++) (rs[i] as MeshPathEvents['frame-range'])(host, bytes, start, end)
  }

  const backoff = (host: string): void => {
    const prev = nextDial.get(host)
    const attempt = (prev?.attempt ?? -1) + 1
    nextDial.set(host, { at: Date.now() + (MESH_REDIAL_MS[Math.min(attempt, MESH_REDIAL_MS.length - 1)] as number), attempt })
  }

  const established = (host: string, socket: Socket, decoder: SwitchableDecoder, initiator: boolean, address: string): void => {
    const old = conns.get(host)
    if (old !== undefined) {
      old.socket.destroy()
      conns.delete(host)
    }
    const conn: Conn = { host, socket, writer: new FrameWriter(socket), initiator, address, since: Date.now(), framesIn: 0, framesOut: 0 }
    conns.set(host, conn)
    nextDial.delete(host)
    socket.setTimeout(0)
    decoder.setMaxFrameBytes(maxFrameBytes)
    // From here on every frame, the rest of this chunk's included, comes in runs.
    decoder.onRunReplace((bytes, start, end) => {
      for (let at = start; at < end;) {
        const from = at + FRAME_HEADER_BYTES
        at = from + readFrameLength(bytes, at)
        conn.framesIn++
        emitFrame(host, bytes, from, at)
      }
    })
    decoder.runs()
    socket.once('close', () => {
      if (conns.get(host) !== conn) return
      conns.delete(host)
      backoff(host)
      emit('down', host, 'connection closed')
    })
    log.info({ host, address, initiator }, 'mesh connection up')
    emit('up', host)
  }

  const refuse = (socket: Socket, host: string | undefined, err: Error): void => {
    const gate = logGate.take(`${host ?? socket.remoteAddress ?? ''}:${(err as AdmissionError).code}`)
    if (gate !== false) log.warn({ host, remote: socket.remoteAddress, code: (err as AdmissionError).code, err: err.message, ...suppressedField(gate) }, 'mesh connection refused')
    socket.destroy()
  }

  /** Frame plumbing shared by both sides: until `established`, frames go to the hello step, held to the pre-admission limit. */
  const frameSocket = (socket: Socket, onHello: (payload: Buffer) => void, host: () => string | undefined): SwitchableDecoder => {
    let runHandler: RunHandler = () => {}
    const decoder = new FrameDecoder({
      maxFrameBytes: helloMaxFrameBytes,
      // A refused socket is destroyed: the rest of a chunk it sent is not looked at.
      onFrame: (p) => { if (!socket.destroyed) onHello(p) },
      onRun: (bytes, start, end) => { runHandler(bytes, start, end) },
      onError: (err) => {
        const h = host()
        if (h !== undefined && conns.get(h)?.socket === socket) emit('frame-error', h, err)
        else if (!socket.destroyed) refuse(socket, h, err)
      }
    })
    socket.on('data', (chunk: Buffer) => { decoder.push(chunk) })
    socket.on('error', () => {})
    return Object.assign(decoder, { onRunReplace: (fn: RunHandler) => { runHandler = fn } })
  }

  const accept = (socket: Socket): void => {
    socket.setNoDelay(true)
    const remote = canonicalIp(socket.remoteAddress ?? '')
    const serverNonce = newNonce()
    let step: 'hello' | 'proof' = 'hello'
    let client: { host: string, nonce: Buffer } | undefined
    socket.setTimeout(init.helloTimeoutMs ?? DEFAULT_MESH_HELLO_TIMEOUT_MS, () => { refuse(socket, client?.host, new AdmissionError('no mesh hello within the timeout')) })
    const decoder = frameSocket(socket, (payload) => {
      try {
        if (step === 'hello') {
          const h = decodeClientHello(codec, payload)
          if (h.to !== init.hostId) throw new AdmissionError('mesh hello is for another host')
          const route = routes.get(h.host)
          if (route === undefined) throw new AdmissionError(`host ${h.host.slice(0, 12)} is not a mesh peer of this host`)
          if (canonicalIp(route.address) !== remote) throw new AdmissionError(`host ${h.host.slice(0, 12)} connected from ${remote}, not its mesh address ${route.address}`)
          client = { host: h.host, nonce: h.nonce }
          step = 'proof'
          socket.write(encodeFrame(codec.encode({ m: MESH_HELLO, host: init.hostId, nonce: serverNonce, proof: meshProof(init.keys, 'server', h.nonce, serverNonce, init.hostId, h.host) })))
          return
        }
        const c = client as { host: string, nonce: Buffer }
        const p = decodeClientProof(codec, payload)
        if (!proofMatches(meshProof(init.keys, 'client', c.nonce, serverNonce, c.host, init.hostId), p.proof)) throw new AdmissionError('mesh hello proof does not verify (wrong cluster secret)')
        if (!routes.has(c.host)) throw new AdmissionError(`host ${c.host.slice(0, 12)} stopped being a mesh peer during the hello`)
        established(c.host, socket, decoder, false, remote)
      } catch (err) {
        refuse(socket, client?.host, err as Error)
      }
    }, () => client?.host)
  }

  const dial = (host: string, route: MeshRoute): void => {
    const clientNonce = newNonce()
    const socket = createConnection({ host: route.address, port: route.port, noDelay: true, timeout: init.connectTimeoutMs ?? DEFAULT_MESH_CONNECT_TIMEOUT_MS })
    dialing.set(host, socket)
    let done = false
    const fail = (why: string): void => {
      if (done) return
      done = true
      dialing.delete(host)
      socket.destroy()
      backoff(host)
      log.debug({ host, address: route.address, why }, 'mesh dial failed')
    }
    socket.once('timeout', () => { fail('timeout') })
    socket.once('close', () => { fail('closed') })
    socket.once('connect', () => {
      socket.write(encodeFrame(codec.encode({ m: MESH_HELLO, host: init.hostId, to: host, nonce: clientNonce })))
    })
    const decoder = frameSocket(socket, (payload) => {
      try {
        const h = decodeServerHello(codec, payload)
        if (h.host !== host) throw new AdmissionError(`mesh peer at ${route.address} is ${h.host.slice(0, 12)}, not ${host.slice(0, 12)}`)
        if (!proofMatches(meshProof(init.keys, 'server', clientNonce, h.nonce, host, init.hostId), h.proof)) throw new AdmissionError('mesh hello proof does not verify (wrong cluster secret)')
        socket.write(encodeFrame(codec.encode({ proof: meshProof(init.keys, 'client', clientNonce, h.nonce, init.hostId, host) })))
        done = true
        dialing.delete(host)
        established(host, socket, decoder, true, canonicalIp(route.address))
      } catch (err) {
        refuse(socket, host, err as Error)
        fail((err as Error).message)
      }
    }, () => host)
  }

  /** Queues `payload` (already framed or not) on the connection to `host`; false when there is none. */
  const write = (host: string, payload: Uint8Array, framed: boolean): boolean => {
    const c = conns.get(host)
    if (c === undefined || c.socket.destroyed) return false
    c.framesOut++
    if (framed) c.writer.writeFramed(payload)
    else c.writer.write(payload)
    return true
  }

  const maintain = (): void => {
    if (!running) return
    const now = Date.now()
    for (const [host, route] of routes) {
      if (host <= init.hostId || route.ready === false || conns.has(host) || dialing.has(host)) continue
      const next = nextDial.get(host)
      if (next !== undefined && next.at > now) continue
      dial(host, route)
    }
  }

  return {
    async start (listenAddress) {
      if (running) return
      const srv = createServer({ noDelay: true }, accept)
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen({ host: listenAddress, port, ipv6Only: true }, () => { srv.off('error', reject); resolve() })
      })
      srv.on('error', (err) => { log.error({ err }, 'mesh listener failed') })
      server = srv
      listenAt = { address: listenAddress, port: (srv.address() as { port: number }).port }
      running = true
      timer = setInterval(maintain, MAINTAIN_EVERY_MS)
      timer.unref()
      log.info({ address: listenAddress, port: listenAt.port }, 'mesh listener up')
    },
    async stop () {
      if (!running) return
      running = false
      if (timer !== undefined) clearInterval(timer)
      for (const s of dialing.values()) s.destroy()
      dialing.clear()
      for (const c of [...conns.values()]) { c.writer.flush(); c.socket.end(); c.socket.destroy() }
      conns.clear()
      await new Promise<void>(resolve => { server?.close(() => { resolve() }) ?? resolve() })
      server = undefined
      listenAt = undefined
    },
    setRoutes (next) {
      for (const [host, r] of next) if (r.ready !== false && routes.get(host)?.ready === false) nextDial.delete(host)
      routes = next
      for (const [host, c] of conns) {
        if (routes.has(host)) continue
        conns.delete(host)
        c.writer.flush()
        c.socket.destroy()
        emit('down', host, 'no longer a mesh peer')
      }
      for (const [host, s] of dialing) if (!routes.has(host)) s.destroy()
      for (const host of nextDial.keys()) if (!routes.has(host)) nextDial.delete(host)
      maintain()
    },
    connected: (host) => conns.has(host),
    send: (host, payload) => write(host, payload, false),
    sendFramed: (host, payload) => write(host, payload, true),
    drop (host, reason) {
      const c = conns.get(host)
      if (c === undefined) return
      conns.delete(host)
      c.socket.destroy()
      backoff(host)
      log.warn({ host, reason }, 'mesh connection dropped')
      emit('down', host, reason)
    },
    connections: () => [...conns.values()].map(c => ({ host: c.host, address: c.address, initiator: c.initiator, since: c.since, framesIn: c.framesIn, framesOut: c.framesOut })),
    listening: () => listenAt,
    on: (e, fn) => {
      if (e === 'frame') frameFns = [...frameFns, fn as MeshPathEvents['frame']]
      else if (e === 'frame-range') rangeFns = [...rangeFns, fn as MeshPathEvents['frame-range']]
      else events.on(e, fn)
    },
    off: (e, fn) => {
      if (e === 'frame') frameFns = frameFns.filter(f => f !== fn)
      else if (e === 'frame-range') rangeFns = rangeFns.filter(f => f !== fn)
      else events.off(e, fn)
    }
  }
}
