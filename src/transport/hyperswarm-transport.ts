import { EventEmitter } from 'node:events'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type NoiseStream } from 'hyperswarm'
import type { Codec } from '../codec/codec.js'
import { ENVELOPE_VERSIONS } from '../codec/compact-envelope.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../codec/frame.js'
import { dhtPortOption } from '../dht/defaults.js'
import { AdmissionError, HostUnreachableError, NotStartedError, UnknownHostError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { deriveClusterKeys, helloProof, verifyHelloProof, type ClusterKeys } from './cluster-keys.js'
import { Connection } from './connection.js'
import { decodeFirstFrame, encodeHello, encodeRefusal, HELLO_VERSION, type Hello } from './hello.js'
import type { PeerInfo, SendFailure, Transport, TransportEvents } from './transport.js'
import { createHandshakePacer, paceServerHandshakes } from './handshake-pacer.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'
import type { Milestones } from '../log/milestones.js'

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000
/** How long a connection to a host being dialed may go without the host's hello (see dropUnanswered). */
export const DIALED_HELLO_TIMEOUT_MS = 1_500
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
export const DEFAULT_LOOKUP_INTERVAL_MS = 15_000
export const DEFAULT_DENY_MS = 30_000
export const MAX_QUEUED_PER_HOST = 10_000
const REPORTED_LOOKUPS = 8

export interface HyperswarmTransportInit {
  cluster: string
  secret: string
  /** 32-byte seed of this host's keypair; its public key is the host id. */
  seed: Buffer
  name: string
  version: string
  /** DHT bootstrap nodes (`roost dht`). */
  bootstrap: Array<{ host: string, port: number }>
  /** Address the DHT node binds to; a concrete IP (see platform facts), default 127.0.0.1. */
  host?: string
  /** UDP port of the DHT node; 0 picks one. */
  port?: number
  maxFrameBytes?: number
  /** Limit on a frame from a peer not yet admitted (default `UNADMITTED_MAX_FRAME_BYTES`). */
  unadmittedMaxFrameBytes?: number
  connectTimeoutMs?: number
  helloTimeoutMs?: number
  idleTimeoutMs?: number
  lookupIntervalMs?: number
  denyMs?: number
  /** Envelope versions offered in the hello (default all this code speaks); `[1]` sends the hello of a host from before the offer. */
  envelopes?: readonly number[]
  /** Offer to read frames without a session header (default true; false: the hello of a host from before the offer). */
  directFrames?: boolean
  /** Say in the hello that this host has no WireGuard path (default false). */
  streamOnly?: boolean
}

export interface HyperswarmTransportComponents {
  logger: Logger
  codec: Codec
  /** Where the DHT milestones of the start go (`dht.ready`, `dht.announced`, `dht.lookup` n-th done, `dht.known` hosts known after it). */
  milestones?: Pick<Milestones, 'reach'>
}

/** Receives an admitted peer's frames: `bytes[start, end)` is one or more whole frames, length prefixes included. */
export type FrameRunSink = (host: string, bytes: Buffer, start: number, end: number) => void

interface Waiting {
  queue: Array<{ payload: Uint8Array, onFailure: SendFailure | undefined, token: number }>
  timer: NodeJS.Timeout
}

/**
 * Hosts find each other under a topic derived from the cluster name and secret, and connect
 * only when there is something to send. Every connection starts with a hello that proves
 * knowledge of the secret; a host that fails it is refused, logged, and kept out for a while.
 */
export class HyperswarmTransport extends EventEmitter implements Transport {
  readonly kind = 'hyperswarm'
  readonly hostId: string
  private readonly init: HyperswarmTransportInit
  private readonly log: Logger
  private readonly refusedLog = createLogLimiter()
  private readonly codec: Codec
  private readonly keys: ClusterKeys
  private readonly keyPair: { publicKey: Buffer, secretKey: Buffer }
  /** Inbound Noise handshakes, a few per event-loop turn (see handshake-pacer.ts). */
  private readonly handshakes = createHandshakePacer()
  private readonly maxFrameBytes: number
  private readonly milestones: Pick<Milestones, 'reach'> | undefined
  private lookups = 0
  private swarm: Hyperswarm | undefined
  private dht: HyperDHT | undefined
  private readonly conns = new Map<string, Connection>()
  private readonly waiting = new Map<string, Waiting>()
  private readonly dialed = new Set<string>()
  private readonly known = new Map<string, PeerInfo>()
  private readonly denied = new Map<string, number>()
  /** Per denied host, the timer that lifts hyperswarm's ban when its deny window ends. */
  private readonly lifts = new Map<string, NodeJS.Timeout>()
  /** Streams that reached onConnection (so not a connection attempt still under way). */
  private readonly opened = new WeakSet<NoiseStream>()
  /** Attempts whose end re-dials their host if it is still waited for. */
  private readonly watched = new WeakSet<NoiseStream>()
  /** Hosts declared down (hostDown) and not connected since: the ones hostUp restarts a dial to. */
  private readonly down = new Set<string>()
  private timers: NodeJS.Timeout[] = []
  private starting: Promise<void> | undefined
  private running = false
  private runSink: FrameRunSink | undefined
  /** Per host, its latest connection still waiting for the host's hello. */
  private readonly unanswered = new Map<string, { conn: Connection, since: number }>()

  constructor (init: HyperswarmTransportInit, components: HyperswarmTransportComponents) {
    super()
    this.init = init
    this.codec = components.codec
    this.keys = deriveClusterKeys(init.cluster, init.secret)
    this.keyPair = HyperDHT.keyPair(init.seed)
    this.hostId = this.keyPair.publicKey.toString('hex')
    this.log = components.logger.child({ component: 'transport', transport: 'hyperswarm' })
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.milestones = components.milestones
  }

  async start (): Promise<void> {
    if (this.running) return
    this.starting ??= this.doStart()
    await this.starting
  }

  private async doStart (): Promise<void> {
    const dht = new HyperDHT({
      bootstrap: this.init.bootstrap,
      host: this.init.host ?? '127.0.0.1',
      port: dhtPortOption(this.init.port ?? 0),
      firewalled: false,
      keyPair: this.keyPair
    })
    await dht.ready()
    this.milestones?.reach('dht.ready')
    this.dht = dht
    const swarm = new Hyperswarm({
      dht,
      keyPair: this.keyPair,
      firewall: (remotePublicKey) => this.isDenied(remotePublicKey.toString('hex'))
    })
    this.swarm = swarm
    paceServerHandshakes((swarm as unknown as { server: Parameters<typeof paceServerHandshakes>[0] }).server, this.handshakes)
    swarm.on('connection', (stream) => { this.onConnection(stream) })
    this.running = true
    const discovery = swarm.join(this.keys.topic, { server: true, client: false })
    await discovery.flushed()
    this.milestones?.reach('dht.announced')
    this.log.info({ hostId: this.hostId, addresses: this.addresses(), bootstrap: this.init.bootstrap }, 'joined cluster topic')
    this.scheduleLookups()
    const idle = this.init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    const sweep = setInterval(() => { this.sweepIdle(idle) }, Math.max(250, Math.floor(idle / 4)))
    sweep.unref()
    this.timers.push(sweep)
  }

  async stop (): Promise<void> {
    if (this.starting !== undefined) await this.starting.catch(() => {})
    if (!this.running) return
    this.running = false
    this.starting = undefined
    for (const t of this.timers) clearTimeout(t)
    this.timers = []
    for (const t of this.lifts.values()) clearTimeout(t)
    this.lifts.clear()
    this.down.clear()
    for (const [host, w] of this.waiting) {
      clearTimeout(w.timer)
      this.waiting.delete(host)
      for (const q of w.queue) q.onFailure?.(new HostUnreachableError('transport stopped', { host }), q.token)
    }
    for (const conn of this.conns.values()) conn.close()
    this.conns.clear()
    const swarm = this.swarm
    this.swarm = undefined
    await swarm?.destroy().catch(() => {})
    await this.dht?.destroy().catch(() => {})
    this.dht = undefined
  }

  /**
   * From connections made after this call, an admitted peer's frames go to `sink` a run at a time
   * (each received chunk's whole frames at once) instead of as `frame` events, one per frame.
   */
  onFrameRuns (sink: FrameRunSink): void {
    this.runSink = sink
  }

  addresses (): string[] {
    if (this.dht === undefined) return []
    const a = this.dht.address()
    return [`${a.host}:${a.port}`]
  }

  peers (): PeerInfo[] {
    return [...this.known.values()].map(p => ({ ...p, connected: this.conns.has(p.hostId) }))
  }

  send (hostId: string, payload: Uint8Array, onFailure?: SendFailure, token = 0): void {
    if (!this.running || this.swarm === undefined) {
      onFailure?.(new NotStartedError('transport is not running'), token)
      return
    }
    const conn = this.conns.get(hostId)
    if (conn?.writable === true) {
      conn.write(payload)
      return
    }
    if (!/^[0-9a-f]{64}$/.test(hostId) || hostId === this.hostId) {
      onFailure?.(new UnknownHostError(`'${hostId}' is not a host id`, { host: hostId }), token)
      return
    }
    let w = this.waiting.get(hostId)
    if (w === undefined) {
      w = { queue: [], timer: this.dialTimer(hostId) }
      this.waiting.set(hostId, w)
      this.dialed.add(hostId)
      this.liftExpiredBan(hostId)
      const stale = this.unanswered.get(hostId)
      if (stale !== undefined && Date.now() - stale.since >= DIALED_HELLO_TIMEOUT_MS) this.dropUnanswered(stale.conn, hostId)
      this.swarm.joinPeer(Buffer.from(hostId, 'hex'))
      const attempt = this.attemptFor(hostId)
      if (attempt !== undefined) this.redialAfter(attempt, hostId)
      this.log.debug({ host: hostId, ...(attempt === undefined ? {} : { behindAttempt: true }) }, 'dialing')
    }
    if (w.queue.length >= MAX_QUEUED_PER_HOST) {
      onFailure?.(new HostUnreachableError(`too many messages queued for ${hostId.slice(0, 12)} while dialing`, { host: hostId }), token)
      return
    }
    w.queue.push({ payload, onFailure, token })
  }

  /**
   * Writes `framed` (whole frames, length prefixes included, as encodeFrames makes them) to the
   * open connection to `hostId` in one write, after anything already queued on it; false, having
   * written nothing, when there is no open connection (then send each payload instead).
   */
  writeFramed (hostId: string, framed: Uint8Array): boolean {
    if (!this.running) return false
    const conn = this.conns.get(hostId)
    if (conn?.writable !== true) return false
    conn.writeFramed(framed)
    return true
  }

  /** Whether payloads for `hostId` are queued while a connection to it is dialed. */
  isDialing (hostId: string): boolean {
    return this.waiting.has(hostId)
  }

  hostDown (hostId: string, reason: string): void {
    const err = new HostUnreachableError(`host ${hostId.slice(0, 12)} is down (${reason})`, { host: hostId })
    this.failWaiting(hostId, err)
    this.abandonAttempt(hostId)
    this.forgetRelays(hostId)
    this.down.add(hostId)
    const conn = this.conns.get(hostId)
    if (conn === undefined) return
    this.log.debug({ host: hostId, reason }, 'closing the connection to a host declared down')
    this.conns.delete(hostId)
    this.forget(hostId)
    conn.close(err)
    this.emit('disconnect', hostId, err)
  }

  /**
   * The host is back (gossip heard from it after it was declared down): a dial begun while it was
   * away may be behind an attempt aimed at its old address, which takes ~8 s to fail; it starts
   * afresh instead, with a fresh timeout.
   */
  hostUp (hostId: string): void {
    // Only for a host declared down: a joining host's dials are fresh, and an attempt under way is the quickest way there.
    if (!this.down.delete(hostId) || this.swarm === undefined || this.conns.has(hostId)) return
    this.forgetRelays(hostId)
    const w = this.waiting.get(hostId)
    if (w !== undefined) {
      clearTimeout(w.timer)
      w.timer = this.dialTimer(hostId)
    }
    const attempt = this.attemptFor(hostId)
    if (attempt !== undefined) {
      this.log.debug({ host: hostId }, 'host back: abandoning the connection attempt begun while it was away')
      this.redialAfter(attempt, hostId)
      attempt.destroy()
    } else if (this.waiting.has(hostId)) {
      this.swarm.joinPeer(Buffer.from(hostId, 'hex'))
    }
  }

  /**
   * hyperswarm's connection attempt to `hostId` still under way, if any. While it lasts hyperswarm
   * ignores joinPeer, and drops the host's own connection to this one when this host's key sorts
   * first; an attempt at a dead host's old address takes ~8 s to fail.
   */
  private attemptFor (hostId: string): NoiseStream | undefined {
    const all = (this.swarm as unknown as { _allConnections?: { get: (key: string) => NoiseStream | undefined } } | undefined)?._allConnections
    const s = all?.get(hostId)
    return s === undefined || this.opened.has(s) ? undefined : s
  }

  /** When `attempt` ends, dials `hostId` again at once if it is still waited for (not after hyperswarm's seconds of backoff). */
  private redialAfter (attempt: NoiseStream, hostId: string): void {
    if (this.watched.has(attempt)) return
    this.watched.add(attempt)
    attempt.once('close', () => { if (this.waiting.has(hostId) && this.running) this.swarm?.joinPeer(Buffer.from(hostId, 'hex')) })
  }

  /**
   * hyperdht remembers the DHT nodes through which it last reached a host and starts its next
   * connect there; after the host died (or restarted elsewhere) those are stale, and a connect
   * that begins with them waits out their timeouts: seconds.
   */
  private forgetRelays (hostId: string): void {
    (this.dht as unknown as { _relayAddressesCache?: { delete: (key: string) => unknown } } | undefined)?._relayAddressesCache?.delete(hostId)
  }

  /** Ends an attempt no one waits for any more, so it cannot keep the host's next connection out. */
  private abandonAttempt (hostId: string): void {
    const attempt = this.attemptFor(hostId)
    if (attempt === undefined) return
    attempt.on('error', () => {})
    attempt.destroy()
  }

  /** The timer that fails a dial to `hostId` not connected within the connect timeout. */
  private dialTimer (hostId: string): NodeJS.Timeout {
    const timeoutMs = this.init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    return setTimeout(() => { this.dialTimedOut(hostId, timeoutMs) }, timeoutMs)
  }

  private dialTimedOut (hostId: string, timeoutMs: number): void {
    const w = this.waiting.get(hostId)
    if (w === undefined) return
    this.abandonAttempt(hostId)
    const peer = this.known.get(hostId)
    if (peer !== undefined) peer.unreachable = true
    this.log.warn({ host: hostId, timeoutMs, queued: w.queue.length }, 'host unreachable')
    this.failWaiting(hostId, new HostUnreachableError(`no connection to ${hostId.slice(0, 12)} within ${timeoutMs} ms`, { host: hostId }))
  }

  private forget (hostId: string): void {
    if (this.dialed.delete(hostId)) this.swarm?.leavePeer(Buffer.from(hostId, 'hex'))
  }

  /**
   * hyperswarm bans a peer for good once the firewall refused it (it then neither dials nor
   * accepts it), but a refusal here denies a host for denyMs only: a host refused once (say, its
   * hello lost while a partition cut the data path but not the DHT) must be reachable again.
   */
  private liftExpiredBan (hostId: string): void {
    const peer = this.swarm?.peers.get(hostId)
    if (peer?.banned === true && !this.isDenied(hostId)) {
      peer.ban(false)
      this.log.debug({ host: hostId }, 'deny window over: dialling the host again')
    }
  }

  private isDenied (hostId: string): boolean {
    const until = this.denied.get(hostId)
    if (until === undefined) return false
    if (Date.now() < until) return true
    this.denied.delete(hostId)
    return false
  }

  private onConnection (stream: NoiseStream): void {
    this.opened.add(stream)
    const remote = stream.remotePublicKey.toString('hex')
    let admitted = false
    const helloTimer = setTimeout(() => {
      if (admitted || conn.closed) return
      this.dropSilent(conn, remote)
    }, this.init.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS)
    const dialedHelloTimer = setTimeout(() => { this.dropUnanswered(conn, remote) }, DIALED_HELLO_TIMEOUT_MS)
    const helloSeen = (): void => {
      clearTimeout(helloTimer)
      clearTimeout(dialedHelloTimer)
      if (this.unanswered.get(remote)?.conn === conn) this.unanswered.delete(remote)
    }
    const conn: Connection = new Connection({
      stream,
      maxFrameBytes: this.maxFrameBytes,
      ...(this.init.unadmittedMaxFrameBytes === undefined ? {} : { unadmittedMaxFrameBytes: this.init.unadmittedMaxFrameBytes }),
      onFrame: (payload) => {
        if (admitted) {
          this.emit('frame', remote, payload)
          return
        }
        // Refused already: what the peer sent after its hello is not looked at.
        if (conn.closed) return
        helloSeen()
        try {
          admitted = this.admit(conn, remote, payload)
        } catch (err) {
          this.refuse(conn, remote, err as Error)
        }
      },
      ...(this.runSink === undefined
        ? {}
        : {
            onRun: (bytes: Buffer, start: number, end: number) => {
              if (admitted) (this.runSink as FrameRunSink)(remote, bytes, start, end)
            }
          }),
      onFrameError: (err) => {
        if (admitted) {
          this.emit('frame-error', remote, err)
          return
        }
        if (conn.closed) return
        helloSeen()
        this.refuse(conn, remote, err)
      },
      onClose: () => {
        helloSeen()
        if (!admitted || this.conns.get(remote) !== conn) return
        this.conns.delete(remote)
        this.forget(remote)
        this.log.debug({ host: remote }, 'disconnected')
        this.emit('disconnect', remote, undefined)
      }
    })
    this.unanswered.set(remote, { conn, since: Date.now() })
    // hyperswarm ignores joinPeer while it still holds a connection to the peer, so a dial that
    // began while this one was closing (e.g. just after an idle close) would wait for its retry
    // backoff, seconds: ask again once it is gone. (Connection's onClose skips local closes.)
    stream.on('close', () => {
      helloSeen()
      if (this.waiting.has(remote)) this.swarm?.joinPeer(stream.remotePublicKey)
    })
    const hello: Hello = {
      hello: HELLO_VERSION,
      cluster: this.keys.cluster,
      hostId: this.hostId,
      name: this.init.name,
      version: this.init.version,
      addresses: this.addresses(),
      proof: helloProof(this.keys, stream.handshakeHash, this.keyPair.publicKey)
    }
    const envelopes = this.init.envelopes ?? ENVELOPE_VERSIONS
    if (envelopes.some(v => v !== 1)) hello.envelopes = [...envelopes]
    if (this.init.directFrames !== false) hello.directFrames = true
    if (this.init.streamOnly === true) hello.streamOnly = true
    conn.writeNow(encodeHello(this.codec, hello))
  }

  private admit (conn: Connection, remote: string, payload: Buffer): boolean {
    const first = decodeFirstFrame(this.codec, payload)
    if (first.kind === 'refusal') {
      this.log.warn({ host: remote, code: first.refusal.refused, reason: first.refusal.message }, 'refused by peer')
      conn.close()
      this.failWaiting(remote, new AdmissionError(`host ${remote.slice(0, 12)} refused this host's hello`, { host: remote }))
      return false
    }
    const hello = first.hello
    if (hello.cluster !== this.keys.cluster) throw new AdmissionError(`peer is in cluster '${hello.cluster}', not '${this.keys.cluster}'`)
    if (hello.hostId !== remote) throw new AdmissionError('hello host id does not match the connection key')
    if (!verifyHelloProof(this.keys, conn.stream.handshakeHash, conn.stream.remotePublicKey, hello.proof)) {
      throw new AdmissionError('hello proof does not verify (wrong cluster secret)')
    }
    const previous = this.known.get(remote)
    const info: PeerInfo = {
      hostId: remote,
      name: hello.name,
      version: hello.version,
      addresses: hello.addresses,
      connected: true,
      lastSeen: Date.now(),
      admitted: true,
      unreachable: false
    }
    if (hello.envelopes !== undefined) info.envelopes = hello.envelopes
    if (hello.directFrames === true) info.directFrames = true
    if (hello.streamOnly === true) info.streamOnly = true
    this.known.set(remote, info)
    this.conns.set(remote, conn)
    this.down.delete(remote)
    conn.admitted()
    if (previous === undefined) this.emit('discover', remote)
    this.log.debug({ host: remote, name: hello.name, version: hello.version }, 'admitted')
    const w = this.waiting.get(remote)
    if (w !== undefined) {
      clearTimeout(w.timer)
      this.waiting.delete(remote)
      for (const q of w.queue) conn.write(q.payload)
    }
    this.emit('connect', { ...info })
    return true
  }

  /**
   * Closes `conn` if it still has no hello from `remote` while a dial to `remote` waits. When two
   * hosts dial each other at once, hyperswarm on each end keeps one of the two connections, and
   * the ends can keep different ones: the one kept here may be one the peer destroyed before it
   * opened on its side, so its hello never comes, and while it is open hyperswarm dials the host
   * no other way (a 10-host lab lost pairs for the whole connect timeout this way). Hellos
   * normally come within milliseconds; the stream's close dials again at once.
   */
  private dropUnanswered (conn: Connection, remote: string): void {
    if (conn.closed || !this.waiting.has(remote) || this.unanswered.get(remote)?.conn !== conn) return
    this.unanswered.delete(remote)
    this.log.debug({ host: remote }, 'no hello on a connection to a host being dialed: closing it and dialing again')
    conn.close(new AdmissionError('no hello from a host being dialed'))
  }

  /**
   * A peer whose hello never came is closed, not refused: the Noise handshake can pass through
   * the DHT while the data path is cut (a partition), and a deny window would keep the host out
   * for denyMs after the network heals. Holding a silent connection costs it as much as us, and
   * the next one starts with its own hello timeout; nothing is said to it (there may be no path).
   */
  private dropSilent (conn: Connection, remote: string): void {
    const gate = this.refusedLog.take('hello-timeout')
    if (gate !== false) this.log.info({ host: remote, ...suppressedField(gate) }, 'no hello within the timeout; closing the connection (data path cut?)')
    conn.close()
  }

  private refuse (conn: Connection, remote: string, err: Error): void {
    const code = (err as AdmissionError).code ?? 'ERR_ADMISSION'
    const gate = this.refusedLog.take(code)
    if (gate !== false) this.log.warn({ host: remote, code, err: err.message, ...suppressedField(gate) }, 'refused host')
    const denyMs = this.init.denyMs ?? DEFAULT_DENY_MS
    this.denied.set(remote, Date.now() + denyMs)
    // Also lifted without a dial of ours, so the host's own dials are accepted again.
    clearTimeout(this.lifts.get(remote))
    const lift = setTimeout(() => { this.lifts.delete(remote); this.liftExpiredBan(remote) }, denyMs + 1)
    lift.unref()
    this.lifts.set(remote, lift)
    conn.writeNow(encodeRefusal(this.codec, { refused: code, message: 'admission refused' }))
    conn.close()
    this.failWaiting(remote, err)
  }

  private failWaiting (hostId: string, err: Error): void {
    const w = this.waiting.get(hostId)
    if (w === undefined) return
    clearTimeout(w.timer)
    this.waiting.delete(hostId)
    this.forget(hostId)
    for (const q of w.queue) q.onFailure?.(err, q.token)
  }

  private sweepIdle (idleMs: number): void {
    const now = Date.now()
    for (const [host, conn] of this.conns) {
      if (!this.dialed.has(host) || now - conn.lastActivity < idleMs) continue
      this.log.debug({ host }, 'closing idle connection')
      this.conns.delete(host)
      this.forget(host)
      conn.close()
      this.emit('disconnect', host, undefined)
    }
  }

  private scheduleLookups (): void {
    const max = this.init.lookupIntervalMs ?? DEFAULT_LOOKUP_INTERVAL_MS
    let delay = 250
    const tick = (): void => {
      if (!this.running) return
      this.lookup().catch((err: unknown) => { this.log.debug({ err }, 'lookup failed') }).finally(() => {
        if (!this.running) return
        delay = Math.min(max, delay * 2)
        const t = setTimeout(tick, delay)
        t.unref()
        this.timers.push(t)
      })
    }
    tick()
  }

  /** Queries the DHT for hosts announced under the cluster topic. */
  async lookup (): Promise<void> {
    if (this.dht === undefined) return
    const now = Date.now()
    for await (const result of this.dht.lookup(this.keys.topic)) {
      for (const peer of result.peers) {
        const hostId = peer.publicKey.toString('hex')
        if (hostId === this.hostId) continue
        const p = this.known.get(hostId)
        if (p !== undefined) {
          p.lastSeen = Math.max(p.lastSeen, now)
          continue
        }
        this.known.set(hostId, { hostId, name: '', version: '', addresses: [], connected: false, lastSeen: now, admitted: false, unreachable: false })
        this.emit('discover', hostId)
      }
    }
    if (++this.lookups <= REPORTED_LOOKUPS) this.milestones?.reach('dht.lookup', this.lookups)
    this.milestones?.reach('dht.known', this.known.size)
  }

  override on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    return super.on(event, listener)
  }

  override off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    return super.off(event, listener)
  }
}

export function createHyperswarmTransport (init: HyperswarmTransportInit, components: HyperswarmTransportComponents): HyperswarmTransport {
  return new HyperswarmTransport(init, components)
}
