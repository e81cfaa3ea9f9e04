import { holdInPlace, isSharedView } from './frame-ring.js'

/** Most frames one peer may have waiting for a missing earlier one, whatever their size. */
export const MAX_REORDER = 100_000

/** What one held frame costs beyond its bytes (its objects, a map entry), counted against byte budgets so that many tiny frames count too. */
export const FRAME_OVERHEAD_BYTES = 128

/** The bytes a frame is counted for while it is held (a skipped frame, `null`, only for its overhead). */
export function heldBytes (frame: Buffer | null): number {
  return (frame?.byteLength ?? 0) + FRAME_OVERHEAD_BYTES
}

function ownsItsMemory (frame: Buffer): boolean {
  return frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && !isSharedView(frame)
}

/**
 * The frames from one peer that arrived ahead of a gap, by sequence number, counted in bytes.
 * A frame that is a slice of a larger chunk is kept as a copy (the chunk would stay alive with
 * it and escape the count); one in the transport's ring is held there while it is being handed
 * on (frame-ring.ts), else copied (the ring is reused); one that is its whole buffer (large frames come so) is kept as is. `null` marks a frame that was skipped below
 * (over the size limit): it only uses up its sequence number.
 */
export class ReorderBuffer {
  private readonly frames = new Map<number, Buffer | null>()
  /** For frames held where the transport ring has them, what lets the ring reuse them. */
  private readonly inPlace = new Map<number, () => void>()
  private held = 0

  constructor (private readonly maxBytes: number) {}

  /** Bytes held, overhead included. */
  get bytes (): number {
    return this.held
  }

  get size (): number {
    return this.frames.size
  }

  /** Whether `frame` fits in the byte and count budgets next to what is held. */
  fits (frame: Buffer | null): boolean {
    return this.frames.size < MAX_REORDER && this.held + heldBytes(frame) <= this.maxBytes
  }

  has (seq: number): boolean {
    return this.frames.has(seq)
  }

  /** Holds `frame` (the caller checked {@link fits}; a sequence number already held keeps its first frame). */
  add (seq: number, frame: Buffer | null): void {
    if (this.frames.has(seq)) return
    const letGo = frame === null ? undefined : holdInPlace(frame, (copy) => { this.moved(seq, copy) })
    if (letGo !== undefined) this.inPlace.set(seq, letGo)
    this.frames.set(seq, frame === null || letGo !== undefined || ownsItsMemory(frame) ? frame : Buffer.from(frame))
    this.held += heldBytes(frame)
  }

  private moved (seq: number, copy: Buffer): void {
    if (!this.inPlace.delete(seq)) return
    this.frames.set(seq, copy)
  }

  private letGo (seq: number): void {
    const fn = this.inPlace.get(seq)
    if (fn === undefined) return
    this.inPlace.delete(seq)
    fn()
  }

  /** Removes and returns the frame of `seq` (read it before returning to the event loop); undefined when it is not held. */
  take (seq: number): Buffer | null | undefined {
    const frame = this.frames.get(seq)
    if (frame === undefined) return undefined
    this.frames.delete(seq)
    this.letGo(seq)
    this.held -= heldBytes(frame)
    return frame
  }

  /** Lets go of every frame below `seq` (the sender gave them up). */
  dropBelow (seq: number): void {
    for (const [k, frame] of this.frames) {
      if (k >= seq) continue
      this.frames.delete(k)
      this.letGo(k)
      this.held -= heldBytes(frame)
    }
  }

  clear (): void {
    for (const fn of this.inPlace.values()) fn()
    this.inPlace.clear()
    this.frames.clear()
    this.held = 0
  }
}
