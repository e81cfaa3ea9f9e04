import type { WireError } from '../errors/roost-error.js'
import type { HyperswarmTransportInit } from './hyperswarm-transport.js'
import type { PeerInfo } from './transport.js'

/** What the transport thread is started with (structured-clone safe). */
export interface TransportWorkerData {
  init: HyperswarmTransportInit
  logLevel: string
  /** Fields every log line of the thread carries. */
  logBase: Record<string, unknown>
  /** How often the thread sends its peer list when nothing else changed it (ms). */
  peersIntervalMs: number
  /** The memory received frames are written into (frame-ring.ts). */
  ring: SharedArrayBuffer
  /** Actor paths whose compact envelopes the thread lists as urgent in each batch (`TransportThreadInit.priorityPaths`). */
  priorityPaths: string[]
}

/** Agent → transport thread. `id` 0: the sender does not want to hear of a failure. */
export type ToTransport =
  | { t: 'start' }
  | { t: 'stop' }
  /**
   * Payloads laid end to end in `bytes`, `lens[i]` bytes each, in the order they were sent: the
   * first `runs[0]` to `hosts[0]`, the next `runs[1]` to `hosts[1]`… (one string per run of sends
   * to the same host, not one per payload).
   */
  | { t: 'send', ids: Float64Array | number[], hosts: string[], runs: number[], lens: Int32Array | number[], bytes: Uint8Array }
  | { t: 'host-down', host: string, reason: string }
  | { t: 'host-up', host: string }

/**
 * Transport thread → agent. Frames come in batches, in arrival order (see `FramesBatch` in
 * frame-batch.ts): most in the shared ring, the rest in transferred buffers.
 */
export type FromTransport =
  | { t: 'started', addresses: string[], peers: PeerInfo[] }
  | { t: 'start-failed', error: WireError }
  | { t: 'stopped' }
  | { t: 'frames', hosts: string[], runs: number[], lens: Int32Array | number[], bufs: Int32Array | number[], buffers: Uint8Array[], ring: number[], urgent: number[] }
  /** `head`: the first bytes of the frame an oversized-frame error skipped (the session layer needs its sequence number). */
  | { t: 'frame-error', host: string, error: WireError, head: Uint8Array | null }
  | { t: 'connect', peer: PeerInfo }
  | { t: 'disconnect', host: string, reason: WireError | null }
  | { t: 'discover', host: string }
  | { t: 'peers', peers: PeerInfo[] }
  /** The transport reached a milestone of its start (see runtime/milestones.ts); `at` is epoch ms. */
  | { t: 'milestone', event: string, n: number, at: number }
  /** Sends whose fate is now known: `ok` reached a connection, `failed` each with its error. */
  | { t: 'settled', ok: Float64Array | number[], failed: Array<{ id: number, error: WireError }> }
