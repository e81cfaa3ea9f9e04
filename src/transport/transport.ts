/** What a host knows of another host. */
export interface PeerInfo {
  /** Hex of the host's public key: its identity. */
  hostId: string
  /** Human name the host gave itself (not unique, not trusted for routing). */
  name: string
  version: string
  /** Addresses the host says it can be reached on (informational). */
  addresses: string[]
  /** A connection that passed the hello is open now. */
  connected: boolean
  /** Last time (ms since epoch) a frame arrived from it, or it was seen in discovery. */
  lastSeen: number
  /** Whether hello info is known (only after one admitted connection). */
  admitted: boolean
  /** Last dial failed and nothing was heard since. */
  unreachable: boolean
  /** Envelope versions its hello offered (absent: version 1 only, a host from before the offer). */
  envelopes?: number[]
  /** Its hello said it reads frames without a session header (see hello.ts). */
  directFrames?: boolean
  /** Its hello said it has no WireGuard path. */
  streamOnly?: boolean
}

export interface TransportEvents {
  /** One frame's payload from an admitted host. */
  frame: (hostId: string, payload: Buffer) => void
  /**
   * As `frame`, the payload being `bytes[start, end)` (no view of its own made for it): emitted
   * only by a transport whose `framesAsRanges` is true, for every frame. Read it before returning;
   * copy what is kept, as with `frame`.
   */
  'frame-range': (hostId: string, bytes: Uint8Array, start: number, end: number) => void
  /** A frame from an admitted host that could not be taken (over the size limit); it was skipped. */
  'frame-error': (hostId: string, err: Error) => void
  /** A connection to this host passed the hello. */
  connect: (peer: PeerInfo) => void
  /** The last connection to this host closed; its in-flight messages are lost. */
  disconnect: (hostId: string, reason: Error | undefined) => void
  /** Discovery found a host not known before. */
  discover: (hostId: string) => void
}

/**
 * Called when a payload could not be handed to a connection (never for success), with the
 * `token` it was sent with: one function can serve many sends (the session layer's token is the
 * payload's sequence number), so a send need not allocate a callback of its own.
 */
export type SendFailure = (err: Error, token: number) => void

/** Memory a transport lends for the next payload (see {@link Transport.sendTarget}); good until that payload is committed. */
export interface SendTarget {
  bytes: Uint8Array
  at: number
}

/**
 * Moves framed payloads between admitted hosts of one cluster. Connections are opened when a
 * payload is sent to a host, not kept to every host.
 */
export interface Transport {
  readonly hostId: string
  readonly kind: string
  /**
   * Actor paths the transport reads from compact envelopes' headers (the transport thread's
   * urgent frames): messages to them keep `to` written out, never templated.
   */
  readonly priorityPaths?: readonly string[]
  /** Its `frame-range` event carries every frame (a listener takes one event or the other, not both). */
  readonly framesAsRanges?: boolean
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Queues one payload for a host; `onFailure` fires, with `token` (default 0), if it can't be written (unknown host, dial timeout, closed). */
  send: (hostId: string, payload: Uint8Array, onFailure?: SendFailure, token?: number) => void
  /**
   * Where the next payload to `hostId` may be written in place, for a transport that can take it
   * there (no view made, nothing copied): write from `at`, at most to the end of `bytes`, then
   * call {@link Transport.commitSend} with where it ends, before anything else is sent. Undefined:
   * use `send`. Optional, with `commitSend`.
   */
  sendTarget?: (hostId: string) => SendTarget | undefined
  /** Sends the payload written at the target {@link Transport.sendTarget} gave, up to `end`; as `send` otherwise. */
  commitSend?: (hostId: string, end: number, onFailure?: SendFailure, token?: number) => void
  /** Hosts discovered or met so far (not including this one). */
  peers: () => PeerInfo[]
  /** Addresses this host announces. */
  addresses: () => string[]
  /**
   * A failure detector above the transport (gossip) declared `hostId` dead: fail what is in
   * flight to it with `ERR_HOST_UNREACHABLE` and close its connections, rather than wait for a
   * dead peer's stream to time out. A later send dials afresh.
   */
  hostDown?: (hostId: string, reason: string) => void
  /**
   * The failure detector above sees `hostId` alive (after any other state, or none). For a host
   * it was told is down (`hostDown`) and has not connected to since, a dial that began while the
   * host was away starts afresh rather than wait out an attempt aimed at where it used to be;
   * otherwise nothing happens.
   */
  hostUp?: (hostId: string) => void
  /**
   * Frames from `hostId` that have reached this process so far, counted as they arrive, before
   * any queue they wait in to be handled: evidence for the failure detector that a host is alive
   * while its answers still wait behind a backlog (see SwimComponents.framesFrom). A transport
   * that hands every frame on as it arrives has no such backlog and may leave it out.
   */
  framesFrom?: (hostId: string) => number
  on: <E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]) => void
  off: <E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]) => void
}
