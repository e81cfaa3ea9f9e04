/**
 * Follows the frames a machine sends down a WebSocket tunnel (RFC 6455 §5.2) without copying
 * them: where each frame ends, and whether the machine has already sent its Close frame. The
 * router uses it to close a tunnel only between two frames, and never to send a second Close
 * after the machine's own (or another router's, for a backhauled tunnel).
 */
export class WsFrameTracker {
  private readonly head = Buffer.alloc(14)
  private headLen = 0
  private remaining = 0
  private inPayload = false
  private opcode = 0
  /** A complete Close frame has passed. */
  closeSent = false

  /** True when the bytes fed so far end exactly after a frame. */
  atBoundary (): boolean {
    return this.headLen === 0 && !this.inPayload
  }

  /**
   * Follows `chunk`; with `stopAtBoundary`, stops at the first frame end it reaches and returns
   * how many bytes it followed, else returns `chunk.length`.
   */
  feed (chunk: Uint8Array, stopAtBoundary = false): number {
    let i = 0
    while (i < chunk.length) {
      if (!this.inPayload) {
        this.head[this.headLen++] = chunk[i++] as number
        const need = this.headBytes()
        if (need === 0 || this.headLen < need) continue
        this.startPayload()
        if (this.remaining === 0) {
          this.endFrame()
          if (stopAtBoundary) return i
        }
        continue
      }
      const take = Math.min(this.remaining, chunk.length - i)
      i += take
      this.remaining -= take
      if (this.remaining === 0) {
        this.endFrame()
        if (stopAtBoundary) return i
      }
    }
    return i
  }

  /** Bytes the current header needs in all, 0 while that is not yet known. */
  private headBytes (): number {
    if (this.headLen < 2) return 0
    const b1 = this.head[1] as number
    const len7 = b1 & 0x7f
    const masked = (b1 & 0x80) !== 0 ? 4 : 0
    return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + masked
  }

  private startPayload (): void {
    const len7 = (this.head[1] as number) & 0x7f
    this.opcode = (this.head[0] as number) & 0x0f
    this.remaining = len7 === 126
      ? this.head.readUInt16BE(2)
      : len7 === 127 ? Number(this.head.readBigUInt64BE(2)) : len7
    this.headLen = 0
    this.inPayload = true
  }

  private endFrame (): void {
    this.inPayload = false
    if (this.opcode === 0x8) this.closeSent = true
  }
}
