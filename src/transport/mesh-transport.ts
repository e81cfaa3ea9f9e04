import { EventEmitter } from 'node:events'
import { skippedFrameHead } from '../codec/frame.js'
import { HostUnreachableError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { MeshPath, MeshRoute } from './mesh-path.js'
import { createFrameListeners } from './frame-listeners.js'
import { createFrameCounts } from './frame-counts.js'
import { createSession, SESSION_ACK, SESSION_DATA, type Session, type SessionInit, type SessionStats } from './session.js'
import type { PeerInfo, SendFailure, Transport, TransportEvents } from './transport.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'

export const DEFAULT_MESH_ACK_TIMEOUT_MS = 2_000
const SWEEP_EVERY_MS = 250

/** Which way messages to a host travel now. */
export type PathKind = 'wireguard' | 'hyperswarm'

export interface MeshTransportInit extends Pick<SessionInit, 'epoch' | 'maxUnackedBytes' | 'maxReorderBytes'> {
  /** A mesh connection whose oldest unacknowledged message is older than this is given up for the stream. */
  ackTimeoutMs?: number
}

export interface MeshTransportComponents {
  logger: Logger
  /** The encrypted hyperswarm streams: discovery, admission, and the path before (or without) a tunnel. */
  stream: Transport
  /** Connections through the WireGuard tunnels (absent where WireGuard cannot run). */
  mesh?: MeshPath
}

/** Counters per path, for `roost mesh` and the benches; `session` has the memory budgets' counters. */
export interface PathStats { framesOut: Record<PathKind, number>, framesIn: Record<PathKind, number>, switches: number, resent: number, session: SessionStats }

/**
 * The transport actor messages use: the hyperswarm stream transport and, where WireGuard runs,
 * connections between mesh addresses, with a session layer over both so that a message is
 * delivered once and in order whichever path carried it. Messages to a host go through its
 * tunnel once a mesh connection to it is up, over the stream before that, and back over the
 * stream when the tunnel stops acknowledging. Between two hosts that can only ever have the
 * stream (one of them runs without WireGuard), frames go without the session header: the
 * stream is ordered, and a send a closing connection loses fails with a typed error, as any
 * send to a host that went away.
 */
export interface MeshTransport extends Transport {
  /** The path messages to `host` take now. */
  pathTo: (host: string) => PathKind
  /** Tells the mesh path which hosts have tunnels and where their mesh ends listen. */
  setRoutes: (routes: ReadonlyMap<string, MeshRoute>) => void
  stats: () => PathStats
  readonly session: Session
}

export function createMeshTransport (init: MeshTransportInit, components: MeshTransportComponents): MeshTransport {
  const { stream, mesh } = components
  const log = components.logger.child({ component: 'transport', transport: 'mesh' })
  const logGate = createLogLimiter()
  const events = new EventEmitter()
  const frames = createFrameListeners(events)
  const ackTimeoutMs = init.ackTimeoutMs ?? DEFAULT_MESH_ACK_TIMEOUT_MS
  const stats: Omit<PathStats, 'session'> = { framesOut: { wireguard: 0, hyperswarm: 0 }, framesIn: { wireguard: 0, hyperswarm: 0 }, switches: 0, resent: 0 }
  const lastPath = new Map<string, PathKind>()
  let sweep: NodeJS.Timeout | undefined
  let running = false
  /**
   * Hosts a pair can only ever reach over the stream while their connection lasts (this host has
   * no WireGuard path, or the peer said it has none) and that read frames without a session
   * header: the session layer, there to carry messages across a path switch, has nothing to do
   * between them. `direct`: those whose messages go without it now — from the first send that
   * finds nothing of the session's unacknowledged, so no direct frame can overtake a session
   * frame that the session might still send again.
   */
  const oneLink = new Set<string>()
  const direct = new Set<string>()
  const goesDirect = (host: string): boolean => {
    if (direct.has(host)) return true
    if (!oneLink.has(host) || session.unacked(host) > 0) return false
    direct.add(host)
    return true
  }
  const forgetLink = (host: string): void => {
    oneLink.delete(host)
    direct.delete(host)
  }
  /** The last `sendTarget` was the session's (else the stream's). */
  let lentBySession = false
  /** The host whose connections `hostDown` is closing: its paths' down events resend and probe nothing. */
  let downing: string | undefined

  const pathTo = (host: string): PathKind => mesh?.connected(host) === true ? 'wireguard' : 'hyperswarm'

  const notePath = (host: string, path: PathKind): void => {
    const prev = lastPath.get(host)
    if (prev === path) return
    lastPath.set(host, path)
    if (prev === undefined) return
    stats.switches++
    log.info({ host, from: prev, to: path }, `messages to ${host.slice(0, 12)} now go over ${path}`)
  }

  const hostGone = (host: string, reason: Error | undefined): void => {
    if (mesh?.connected(host) === true) return
    events.emit('disconnect', host, reason)
  }

  /** Per host, the session's failure function wrapped to also report the host gone (one per host, not per send). */
  const streamFailures = new Map<string, { inner: SendFailure, outer: SendFailure }>()
  const streamFailure = (host: string, inner: SendFailure): SendFailure => {
    const known = streamFailures.get(host)
    if (known?.inner === inner) return known.outer
    if (streamFailures.size > 10_000) streamFailures.clear()
    const outer: SendFailure = (err, token) => {
      inner(err, token)
      hostGone(host, err)
    }
    streamFailures.set(host, { inner, outer })
    return outer
  }

  /** Sends `frame` on the best path now; `framed`: its length prefix is in the 4 bytes before it (every session frame). */
  const transmit = (host: string, frame: Uint8Array, onFailure: SendFailure | undefined, token: number, framed: boolean): PathKind => {
    if (mesh !== undefined && (framed ? mesh.sendFramed(host, frame) : mesh.send(host, frame))) {
      stats.framesOut.wireguard++
      notePath(host, 'wireguard')
      return 'wireguard'
    }
    stats.framesOut.hyperswarm++
    notePath(host, 'hyperswarm')
    stream.send(host, frame, onFailure === undefined ? undefined : streamFailure(host, onFailure), token)
    return 'hyperswarm'
  }

  const { ackTimeoutMs: _, ...sessionInit } = init
  const session = createSession(sessionInit, {
    logger: components.logger,
    transmit: (host, frame, onFailure, token) => transmit(host, frame, onFailure, token, true),
    deliver: (host, bytes, start, end) => { frames.emitRange(host, bytes, start, end) },
    badFrame: (host, err) => {
      const gate = logGate.take(`${host}:${(err as HostUnreachableError).code}`)
      if (gate !== false) log.warn({ host, code: (err as HostUnreachableError).code, err: err.message, ...suppressedField(gate) }, 'bad session frame')
      events.emit('frame-error', host, err)
    },
    resetPaths: (host, err) => {
      mesh?.drop(host, err.message)
      // Closes the stream connection only: nothing queued while dialing fails, since frames just came over it.
      stream.hostDown?.(host, err.message)
    }
  })

  const onStreamFrame = (host: string, payload: Buffer): void => {
    stats.framesIn.hyperswarm++
    const tag = payload[0]
    if (tag === SESSION_DATA || tag === SESSION_ACK) session.receive(host, payload)
    else frames.emit(host, payload)
  }
  const onStreamRange = (host: string, bytes: Uint8Array, start: number, end: number): void => {
    stats.framesIn.hyperswarm++
    const tag = bytes[start]
    if (tag === SESSION_DATA || tag === SESSION_ACK) session.receiveRange(host, bytes, start, end)
    else frames.emitRange(host, bytes, start, end)
  }
  const meshHeard = createFrameCounts()
  const onMeshRange = (host: string, bytes: Buffer, start: number, end: number): void => { stats.framesIn.wireguard++; meshHeard.add(host, 1); session.receiveRange(host, bytes, start, end) }
  const onFrameError = (host: string, err: Error): void => {
    const head = skippedFrameHead(err)
    if (head !== undefined) session.skipped(host, head)
    events.emit('frame-error', host, err)
  }
  const onConnect = (peer: PeerInfo): void => {
    if (peer.directFrames === true && (mesh === undefined || peer.streamOnly === true)) oneLink.add(peer.hostId)
    else forgetLink(peer.hostId)
    events.emit('connect', peer)
  }
  const onDiscover = (host: string): void => { events.emit('discover', host) }
  const onStreamDisconnect = (host: string, reason: Error | undefined): void => {
    forgetLink(host)
    if (host === downing) return
    stats.resent += session.pathLost(host, 'hyperswarm')
    if (session.unacked(host) === 0) hostGone(host, reason)
  }
  const onMeshUp = (host: string): void => { notePath(host, 'wireguard') }
  const onMeshDown = (host: string): void => {
    const resent = session.pathLost(host, 'wireguard')
    stats.resent += resent
    notePath(host, 'hyperswarm')
    if (resent === 0 && host !== downing) {
      // Nothing was in flight: probe over the stream, so a host that is really gone is reported now.
      stream.send(host, session.ackFrame(host), (err) => { hostGone(host, err) })
    }
  }

  /** Subscribes to (or unsubscribes from) both paths' events. */
  const wire = (how: 'on' | 'off'): void => {
    if (stream.framesAsRanges === true) stream[how]('frame-range', onStreamRange)
    else stream[how]('frame', onStreamFrame)
    stream[how]('frame-error', onFrameError)
    stream[how]('connect', onConnect)
    stream[how]('discover', onDiscover)
    stream[how]('disconnect', onStreamDisconnect)
    if (mesh === undefined) return
    mesh[how]('frame-range', onMeshRange)
    mesh[how]('frame-error', onFrameError)
    mesh[how]('up', onMeshUp)
    mesh[how]('down', onMeshDown)
  }

  const sweepAcks = (): void => {
    if (mesh === undefined) return
    const now = Date.now()
    for (const c of mesh.connections()) {
      const age = session.oldestUnacked(c.host, 'wireguard', now)
      if (age > ackTimeoutMs) mesh.drop(c.host, `no acknowledgement for ${age} ms`)
    }
  }

  return {
    kind: 'mesh',
    framesAsRanges: true,
    ...(stream.priorityPaths === undefined ? {} : { priorityPaths: stream.priorityPaths }),
    hostId: stream.hostId,
    session,
    async start () {
      if (running) return
      running = true
      wire('on')
      if (mesh !== undefined) {
        sweep = setInterval(sweepAcks, SWEEP_EVERY_MS)
        sweep.unref()
      }
      await stream.start()
    },
    async stop () {
      if (!running) return
      running = false
      if (sweep !== undefined) clearInterval(sweep)
      await mesh?.stop()
      await stream.stop()
      session.stop()
      wire('off')
    },
    send (host, payload, onFailure, token) {
      if (goesDirect(host)) transmit(host, payload, onFailure, token ?? 0, false)
      else session.send(host, payload, onFailure, token)
    },
    // A session frame is written in place in the memory the session keeps it in; a direct one in the stream's.
    sendTarget (host) {
      lentBySession = !goesDirect(host)
      if (lentBySession) return session.sendTarget()
      if (stream.sendTarget === undefined || mesh?.connected(host) === true) return undefined
      return stream.sendTarget(host)
    },
    commitSend (host, end, onFailure, token) {
      if (lentBySession) {
        session.commit(host, end, onFailure, token)
        return
      }
      stats.framesOut.hyperswarm++
      notePath(host, 'hyperswarm')
      stream.commitSend?.(host, end, onFailure === undefined ? undefined : streamFailure(host, onFailure), token)
    },
    hostUp (host) {
      stream.hostUp?.(host)
    },
    framesFrom: (host) => (stream.framesFrom?.(host) ?? 0) + meshHeard.of(host),
    hostDown (host, reason) {
      const err = new HostUnreachableError(`host ${host.slice(0, 12)} is down (${reason})`, { host })
      session.fail(host, err)
      forgetLink(host)
      downing = host
      try {
        mesh?.drop(host, reason)
        stream.hostDown?.(host, reason)
      } finally {
        downing = undefined
      }
      events.emit('disconnect', host, err)
    },
    peers: () => stream.peers().map(p => ({ ...p, connected: p.connected || mesh?.connected(p.hostId) === true })),
    addresses: () => stream.addresses(),
    pathTo,
    setRoutes: (routes) => { mesh?.setRoutes(routes) },
    stats: () => ({ framesOut: { ...stats.framesOut }, framesIn: { ...stats.framesIn }, switches: stats.switches, resent: stats.resent, session: session.stats() }),
    on: frames.on,
    off: frames.off
  } satisfies MeshTransport & { on: <E extends keyof TransportEvents>(e: E, fn: TransportEvents[E]) => void }
}
