import type { NoiseStream } from 'hyperswarm'
import { encodeFrame, FrameDecoder, UNADMITTED_MAX_FRAME_BYTES } from '../codec/frame.js'
import { FrameWriter } from '../codec/frame-writer.js'
import type { FrameTooLargeError } from '../errors/errors.js'

export interface ConnectionInit {
  stream: NoiseStream
  /** Limit on frames once the peer is admitted ({@link Connection.admitted}). */
  maxFrameBytes: number
  /** Limit on frames before that: the hello and anything before it (default {@link UNADMITTED_MAX_FRAME_BYTES}). */
  unadmittedMaxFrameBytes?: number
  onFrame: (payload: Buffer) => void
  /** Once admitted, frames go here in runs instead of to `onFrame` one by one (see `FrameDecoderInit.onRun`). */
  onRun?: (bytes: Buffer, start: number, end: number) => void
  onFrameError: (err: FrameTooLargeError) => void
  onClose: (err: Error | undefined) => void
}

/**
 * One framed stream to a peer. Payloads written in the same turn of the event loop go out as
 * one stream write (one encryption, one packet train), which is where most of the cost is.
 * Until {@link Connection.admitted} its frames are held to the small pre-admission limit, so
 * an outsider costs this host a few KiB at most.
 */
export class Connection {
  readonly stream: NoiseStream
  readonly remoteHex: string
  lastActivity = Date.now()
  closed = false
  /** Either side ended the stream: what is written now would be lost, not sent. */
  private ended = false
  private readonly writer: FrameWriter
  private readonly decoder: FrameDecoder
  private readonly maxFrameBytes: number

  constructor (init: ConnectionInit) {
    this.stream = init.stream
    this.remoteHex = init.stream.remotePublicKey.toString('hex')
    this.writer = new FrameWriter(this.stream)
    this.maxFrameBytes = init.maxFrameBytes
    this.decoder = new FrameDecoder({
      maxFrameBytes: Math.min(init.maxFrameBytes, init.unadmittedMaxFrameBytes ?? UNADMITTED_MAX_FRAME_BYTES),
      onFrame: init.onFrame,
      ...(init.onRun === undefined ? {} : { onRun: init.onRun }),
      onError: init.onFrameError
    })
    this.stream.on('data', (chunk: Buffer) => {
      this.lastActivity = Date.now()
      this.decoder.push(chunk)
    })
    this.stream.on('error', () => {})
    // The peer closed its side (its close()): end ours too, so the stream closes now instead of
    // lingering half-open until the peer's forced destroy.
    this.stream.on('end', () => {
      this.ended = true
      if (!this.closed) this.stream.end()
    })
    this.stream.on('close', () => {
      if (this.closed) return
      this.closed = true
      init.onClose(undefined)
    })
  }

  /**
   * Writes can still reach the peer: neither side has ended the stream. A peer that closes an
   * idle connection ends it first and reads until this side ends too, so a payload written
   * before then arrives, and one sent after goes on a new connection instead of into a stream
   * that is no longer sent on.
   */
  get writable (): boolean {
    return !this.closed && !this.ended
  }

  /** The peer passed the hello: its later frames (even those already received) may be as large as `maxFrameBytes`, and go to `onRun` when given. */
  admitted (): void {
    this.decoder.setMaxFrameBytes(this.maxFrameBytes)
    this.decoder.runs()
  }

  /** Writes at once, ahead of anything queued (used for the hello). */
  writeNow (payload: Uint8Array): void {
    if (this.closed) return
    this.stream.write(encodeFrame(payload))
  }

  write (payload: Uint8Array): void {
    if (this.closed) return
    this.lastActivity = Date.now()
    this.writer.write(payload)
  }

  /** Writes whole frames (length prefixes included) after whatever `write` has queued. */
  writeFramed (framed: Uint8Array): void {
    if (this.closed) return
    this.lastActivity = Date.now()
    this.writer.flush()
    this.stream.write(framed)
  }

  close (err?: Error): void {
    if (this.closed) return
    this.writer.flush()
    this.closed = true
    this.ended = true
    if (err === undefined) this.stream.end()
    else this.stream.destroy(err)
    setTimeout(() => { this.stream.destroy() }, 1000).unref()
  }
}
