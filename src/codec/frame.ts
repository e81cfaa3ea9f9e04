import { FrameTooLargeError } from '../errors/errors.js'

/** Frames are a 4-byte big-endian length followed by that many bytes of payload. */
export const FRAME_HEADER_BYTES = 4
/** Default ceiling on one frame's payload; a larger frame is skipped with an error. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
/**
 * Ceiling on a frame from a peer not yet admitted (its hello and anything before it): the
 * largest hello the schema allows fits with room to spare, and an outsider with no secret
 * cannot make this host buffer, decode or stringify more than this per connection.
 */
export const UNADMITTED_MAX_FRAME_BYTES = 4 * 1024

/** Writes a frame's length prefix, `n`, at `buf[at]`. */
export function writeFrameLength (buf: Uint8Array, at: number, n: number): void {
  buf[at] = n >>> 24
  buf[at + 1] = (n >>> 16) & 0xff
  buf[at + 2] = (n >>> 8) & 0xff
  buf[at + 3] = n & 0xff
}

/** The length prefix of the frame at `buf[at]`. */
export function readFrameLength (buf: Uint8Array, at: number): number {
  return (buf[at] as number) * 0x1000000 + (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number))
}

export function encodeFrame (payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength)
  out.writeUInt32BE(payload.byteLength, 0)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/** Bytes `payloads` take as frames. */
export function framedLength (payloads: readonly Uint8Array[]): number {
  let total = 0
  for (const p of payloads) total += FRAME_HEADER_BYTES + p.byteLength
  return total
}

/** Writes `payloads` as frames, end to end, into `out` (at least {@link framedLength} bytes) from its start. */
export function writeFrames (out: Buffer, payloads: readonly Uint8Array[]): void {
  let offset = 0
  for (const p of payloads) {
    out.writeUInt32BE(p.byteLength, offset)
    out.set(p, offset + FRAME_HEADER_BYTES)
    offset += FRAME_HEADER_BYTES + p.byteLength
  }
}

/** Concatenates several payloads into one buffer of frames (one write for many messages). */
export function encodeFrames (payloads: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(framedLength(payloads))
  writeFrames(out, payloads)
  return out
}

/** How many leading bytes of a skipped (oversized) frame are kept for the layer above (e.g. its sequence number). */
export const FRAME_HEAD_BYTES = 16

/** The first bytes of the frame an oversized-frame error skipped, where they arrived with its header. */
export function skippedFrameHead (err: Error): Buffer | undefined {
  return (err as { head?: Buffer }).head
}

export interface FrameDecoderInit {
  maxFrameBytes?: number
  onFrame: (payload: Buffer) => void
  /**
   * Once {@link FrameDecoder.runs} is on, whole frames are handed here instead of to `onFrame`:
   * `bytes[start, end)` holds one or more of them, length prefixes included, in order (a chunk's
   * complete frames in one call, not one view per frame).
   */
  onRun?: (bytes: Buffer, start: number, end: number) => void
  /** Called for a frame over the limit; its bytes are skipped and decoding goes on. */
  onError: (err: FrameTooLargeError) => void
}

/**
 * Splits a byte stream into frames. A frame over the limit is never buffered: its payload is
 * discarded as it streams past, so one bad frame costs the connection nothing else.
 */
export class FrameDecoder {
  private maxFrameBytes: number
  private readonly onFrame: (payload: Buffer) => void
  private readonly onError: (err: FrameTooLargeError) => void
  private readonly onRun: ((bytes: Buffer, start: number, end: number) => void) | undefined
  private pending: Buffer | null = null
  private skip = 0
  private runsOn = false

  constructor (init: FrameDecoderInit) {
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.onFrame = init.onFrame
    this.onRun = init.onRun
    this.onError = init.onError
  }

  /** Hands frames on in runs (to `onRun`, when given) from the next frame on, including those of the chunk being split. */
  runs (): void {
    this.runsOn = this.onRun !== undefined
  }

  push (chunk: Buffer): void {
    let buf = chunk
    if (this.skip > 0) {
      if (buf.byteLength <= this.skip) {
        this.skip -= buf.byteLength
        return
      }
      buf = buf.subarray(this.skip)
      this.skip = 0
    }
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, buf])
      this.pending = null
    }
    let offset = 0
    let run = -1
    while (buf.byteLength - offset >= FRAME_HEADER_BYTES) {
      const length = buf.readUInt32BE(offset)
      if (length > this.maxFrameBytes) {
        if (run >= 0) {
          (this.onRun as (bytes: Buffer, start: number, end: number) => void)(buf, run, offset)
          run = -1
        }
        const available = buf.byteLength - offset - FRAME_HEADER_BYTES
        const err = new FrameTooLargeError(`frame of ${length} bytes is over the ${this.maxFrameBytes}-byte limit`, { length, max: this.maxFrameBytes })
        const headStart = offset + FRAME_HEADER_BYTES
        Object.defineProperty(err, 'head', { value: Buffer.from(buf.subarray(headStart, headStart + Math.min(FRAME_HEAD_BYTES, available))), enumerable: false })
        this.onError(err)
        if (available >= length) {
          offset += FRAME_HEADER_BYTES + length
          continue
        }
        this.skip = length - available
        return
      }
      const end = offset + FRAME_HEADER_BYTES + length
      if (end > buf.byteLength) break
      if (this.runsOn) {
        if (run < 0) run = offset
      } else {
        this.onFrame(buf.subarray(offset + FRAME_HEADER_BYTES, end))
      }
      offset = end
    }
    if (run >= 0) (this.onRun as (bytes: Buffer, start: number, end: number) => void)(buf, run, offset)
    if (offset < buf.byteLength) this.pending = Buffer.from(buf.subarray(offset))
  }

  /** Changes the limit from the next frame on, including frames already received in the chunk being split (e.g. raised once the peer is admitted). */
  setMaxFrameBytes (bytes: number): void {
    this.maxFrameBytes = bytes
  }

  /** Bytes held for an incomplete frame. */
  get buffered (): number {
    return this.pending?.byteLength ?? 0
  }
}
