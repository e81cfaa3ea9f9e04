// Minimal declarations for the parts of hyperswarm / hyperdht / secret-stream roost uses.
declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events'
  export interface KeyPair { publicKey: Buffer, secretKey: Buffer }
  export interface DHTOptions {
    bootstrap?: Array<{ host: string, port: number } | string>
    host?: string
    /** A port, or a range [from, to) to try; hyperdht takes a falsy port for its default 49737. */
    port?: number | [number, number]
    firewalled?: boolean
    ephemeral?: boolean
    keyPair?: KeyPair
  }
  export interface LookupResult { from: { host: string, port: number }, peers: Array<{ publicKey: Buffer, relayAddresses: unknown[] }> }
  export interface Query extends AsyncIterable<LookupResult> {
    finished: () => Promise<void>
    destroy: () => void
  }
  export default class HyperDHT extends EventEmitter {
    constructor (opts?: DHTOptions)
    static keyPair (seed?: Buffer): KeyPair
    static bootstrapper (port: number, host: string, opts?: Record<string, unknown>): HyperDHT
    ready (): Promise<void>
    destroy (opts?: { force?: boolean }): Promise<void>
    address (): { host: string, port: number }
    lookup (topic: Buffer, opts?: Record<string, unknown>): Query
    readonly destroyed: boolean
  }
}

declare module 'hyperswarm' {
  import type { EventEmitter } from 'node:events'
  import type HyperDHT from 'hyperdht'
  import type { KeyPair } from 'hyperdht'
  import type { Duplex } from 'node:stream'

  export interface NoiseStream extends Duplex {
    readonly publicKey: Buffer
    readonly remotePublicKey: Buffer
    readonly handshakeHash: Buffer
    readonly isInitiator: boolean
    readonly rawStream: { remoteHost?: string, remotePort?: number }
    setKeepAlive (ms: number): void
    opened: Promise<boolean>
  }
  export interface PeerDiscovery { flushed (): Promise<void>, refresh (opts?: { client?: boolean, server?: boolean }): Promise<void>, destroy (): Promise<void> }
  export interface SwarmOptions {
    keyPair?: KeyPair
    dht?: HyperDHT
    bootstrap?: Array<{ host: string, port: number }>
    maxPeers?: number
    firewall?: (remotePublicKey: Buffer, payload?: unknown) => boolean
  }
  export interface PeerInfo {
    publicKey: Buffer
    client: boolean
    topics: Buffer[]
    /** Set when the firewall refused the peer: hyperswarm neither dials it nor accepts it again until unbanned. */
    readonly banned: boolean
    ban (banned?: boolean): void
  }
  export default class Hyperswarm extends EventEmitter {
    constructor (opts?: SwarmOptions)
    readonly keyPair: KeyPair
    readonly dht: HyperDHT
    readonly connections: Set<NoiseStream>
    /** Known peers by public key (hex). */
    readonly peers: Map<string, PeerInfo>
    join (topic: Buffer, opts?: { server?: boolean, client?: boolean }): PeerDiscovery
    leave (topic: Buffer): Promise<void>
    joinPeer (publicKey: Buffer): void
    leavePeer (publicKey: Buffer): void
    listen (): Promise<void>
    flush (): Promise<void>
    destroy (opts?: { force?: boolean }): Promise<void>
    on (event: 'connection', listener: (conn: NoiseStream, info: PeerInfo) => void): this
    on (event: string, listener: (...args: unknown[]) => void): this
  }
}
