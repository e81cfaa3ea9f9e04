import { EventEmitter } from 'node:events'
import { HostUnreachableError, UnknownHostError } from '../errors/errors.js'
import { ENVELOPE_VERSIONS } from '../codec/compact-envelope.js'
import type { PeerInfo, SendFailure, Transport, TransportEvents } from './transport.js'

/** Options for one host on an in-memory network. */
export interface MemoryTransportInit {
  hostId: string
  name?: string
  version?: string
  /** Envelope versions it offers, as in a hello (default all this code speaks; `[1]`: a host from before the offer). */
  envelopes?: readonly number[]
  /** Whether its hello offers to read frames without a session header (default true; false: a host from before the offer). */
  directFrames?: boolean
  /** Whether its hello says it has no WireGuard path (default false). */
  streamOnly?: boolean
}

/**
 * A set of hosts in one process. Frames are delivered on a later turn of the event loop, in
 * order per pair; `filter` lets tests drop frames (partitions, loss) between two hosts.
 */
export interface MemoryNetwork {
  transport: (init: MemoryTransportInit) => Transport
  /** Return false to drop a frame from → to. */
  setFilter: (filter: ((from: string, to: string) => boolean) | undefined) => void
  hosts: () => string[]
}

interface Member {
  transport: MemoryTransport
  running: boolean
}

class MemoryTransport extends EventEmitter implements Transport {
  readonly kind = 'memory'
  readonly hostId: string
  readonly name: string
  readonly version: string
  readonly envelopes: readonly number[]
  private readonly directFrames: boolean
  private readonly streamOnly: boolean
  private readonly net: NetworkState

  constructor (init: MemoryTransportInit, net: NetworkState) {
    super()
    this.hostId = init.hostId
    this.name = init.name ?? init.hostId.slice(0, 8)
    this.version = init.version ?? '0.0.0'
    this.envelopes = init.envelopes ?? ENVELOPE_VERSIONS
    this.directFrames = init.directFrames ?? true
    this.streamOnly = init.streamOnly ?? false
    this.net = net
  }

  async start (): Promise<void> {
    const m = this.net.members.get(this.hostId)
    if (m !== undefined && m.running) return
    this.net.members.set(this.hostId, { transport: this, running: true })
    for (const other of this.net.members.values()) {
      if (other.transport === this || !other.running) continue
      other.transport.emit('discover', this.hostId)
      this.emit('discover', other.transport.hostId)
      other.transport.emit('connect', this.info(true))
      this.emit('connect', other.transport.info(true))
    }
  }

  async stop (): Promise<void> {
    const m = this.net.members.get(this.hostId)
    if (m === undefined || !m.running) return
    m.running = false
    for (const other of this.net.members.values()) {
      if (other.transport !== this && other.running) {
        const t = other.transport
        setImmediate(() => t.emit('disconnect', this.hostId, undefined))
      }
    }
  }

  send (hostId: string, payload: Uint8Array, onFailure?: SendFailure, token = 0): void {
    const target = this.net.members.get(hostId)
    const self = this.net.members.get(this.hostId)
    if (self === undefined || !self.running) {
      setImmediate(() => onFailure?.(new HostUnreachableError('transport is stopped', { host: hostId }), token))
      return
    }
    if (target === undefined) {
      setImmediate(() => onFailure?.(new UnknownHostError(`unknown host ${hostId}`, { host: hostId }), token))
      return
    }
    if (!target.running) {
      setImmediate(() => onFailure?.(new HostUnreachableError(`host ${hostId} is not running`, { host: hostId }), token))
      return
    }
    if (this.net.filter !== undefined && !this.net.filter(this.hostId, hostId)) return
    const copy = Buffer.from(payload)
    setImmediate(() => {
      if (target.running && self.running) target.transport.emit('frame', this.hostId, copy)
    })
  }

  /** This host as another sees it (what its hello would say). */
  info (running: boolean): PeerInfo {
    const peer: PeerInfo = {
      hostId: this.hostId,
      name: this.name,
      version: this.version,
      addresses: [],
      connected: running,
      lastSeen: Date.now(),
      admitted: true,
      unreachable: !running
    }
    if (this.envelopes.some(v => v !== 1)) peer.envelopes = [...this.envelopes]
    if (this.directFrames) peer.directFrames = true
    if (this.streamOnly) peer.streamOnly = true
    return peer
  }

  peers (): PeerInfo[] {
    return [...this.net.members.values()]
      .filter(m => m.transport !== this)
      .map(m => m.transport.info(m.running))
  }

  addresses (): string[] {
    return []
  }

  override on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    return super.on(event, listener)
  }

  override off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    return super.off(event, listener)
  }
}

interface NetworkState {
  members: Map<string, Member>
  filter: ((from: string, to: string) => boolean) | undefined
}

export function createMemoryNetwork (): MemoryNetwork {
  const state: NetworkState = { members: new Map(), filter: undefined }
  return {
    transport: (init) => new MemoryTransport(init, state),
    setFilter: (filter) => { state.filter = filter },
    hosts: () => [...state.members.keys()]
  }
}
