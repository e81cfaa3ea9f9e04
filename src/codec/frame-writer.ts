import { FRAME_HEADER_BYTES, writeFrameLength } from './frame.js'

/** Where frames go: anything with a `write(Buffer)`, e.g. a stream. */
export interface FrameSink {
  write: (chunk: Buffer) => unknown
}

/**
 * Queues payloads and writes them as frames once per turn of the microtask queue: payloads
 * written together go out as one write (one encryption, one packet train), which is where most
 * of a small message's cost is. A payload that already has its length prefix in the 4 bytes
 * before it ({@link FrameWriter.writeFramed}) is not copied when it follows the previous one in
 * the same memory: a run of such frames goes out as one view of that memory.
 */
export class FrameWriter {
  /** Queued chunks, each a payload to frame or (`framed`) whole frames to write as they are. */
  private outbox: Uint8Array[] = []
  private framed: boolean[] = []
  private run: ArrayBufferLike | null = null
  private runStart = 0
  private runEnd = 0
  private scheduled = false
  private readonly sink: FrameSink

  constructor (sink: FrameSink) {
    this.sink = sink
  }

  write (payload: Uint8Array): void {
    this.closeRun()
    this.outbox.push(payload)
    this.framed.push(false)
    this.schedule()
  }

  /**
   * Queues `payload`, whose length prefix is already written in the 4 bytes before it in its
   * buffer. Those bytes and the payload's must stay as they are until written (the next turn).
   */
  writeFramed (payload: Uint8Array): void {
    const start = payload.byteOffset - FRAME_HEADER_BYTES
    const end = payload.byteOffset + payload.byteLength
    if (this.run === payload.buffer && this.runEnd === start) {
      this.runEnd = end
    } else {
      this.closeRun()
      this.run = payload.buffer
      this.runStart = start
      this.runEnd = end
    }
    this.schedule()
  }

  /** Writes what is queued now. */
  readonly flush = (): void => {
    this.scheduled = false
    this.closeRun()
    const batch = this.outbox
    if (batch.length === 0) return
    const framed = this.framed
    this.outbox = []
    this.framed = []
    if (batch.length === 1 && framed[0] === true) {
      this.sink.write(batch[0] as Buffer)
      return
    }
    let total = 0
    for (let i = 0; i < batch.length; i++) total += (batch[i] as Uint8Array).byteLength + (framed[i] === true ? 0 : FRAME_HEADER_BYTES)
    const out = Buffer.allocUnsafe(total)
    let at = 0
    for (let i = 0; i < batch.length; i++) {
      const chunk = batch[i] as Uint8Array
      if (framed[i] !== true) {
        writeFrameLength(out, at, chunk.byteLength)
        at += FRAME_HEADER_BYTES
      }
      out.set(chunk, at)
      at += chunk.byteLength
    }
    this.sink.write(out)
  }

  /** Drops what is queued (the sink is gone). */
  clear (): void {
    this.outbox = []
    this.framed = []
    this.run = null
  }

  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.flush)
  }

  private closeRun (): void {
    if (this.run === null) return
    this.outbox.push(Buffer.from(this.run, this.runStart, this.runEnd - this.runStart))
    this.framed.push(true)
    this.run = null
  }
}
