import { encodeFrame, encodeFrames } from './frame.js'

/** Where frames go: anything with a `write(Buffer)`, e.g. a stream. */
export interface FrameSink {
  write: (chunk: Buffer) => unknown
}

/**
 * Queues payloads and writes them as frames once per turn of the microtask queue: payloads
 * written together go out as one write (one encryption, one packet train), which is where most
 * of a small message's cost is.
 */
export class FrameWriter {
  private outbox: Uint8Array[] = []
  private scheduled = false
  private readonly sink: FrameSink

  constructor (sink: FrameSink) {
    this.sink = sink
  }

  write (payload: Uint8Array): void {
    this.outbox.push(payload)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flush)
    }
  }

  /** Writes what is queued now. */
  readonly flush = (): void => {
    this.scheduled = false
    if (this.outbox.length === 0) return
    const batch = this.outbox
    this.outbox = []
    this.sink.write(batch.length === 1 ? encodeFrame(batch[0] as Uint8Array) : encodeFrames(batch))
  }

  /** Drops what is queued (the sink is gone). */
  clear (): void {
    this.outbox = []
  }
}
