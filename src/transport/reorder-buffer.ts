/** Most frames one peer may have waiting for a missing earlier one, whatever their size. */
export const MAX_REORDER = 100_000

/** What one held frame costs beyond its bytes (its objects, a map entry), counted against byte budgets so that many tiny frames count too. */
export const FRAME_OVERHEAD_BYTES = 128

/** The bytes a frame is counted for while it is held (a skipped frame, `null`, only for its overhead). */
export function heldBytes (frame: Buffer | null): number {
  return (frame?.byteLength ?? 0) + FRAME_OVERHEAD_BYTES
}

function ownsItsMemory (frame: Buffer): boolean {
  return frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength
}

/**
 * The frames from one peer that arrived ahead of a gap, by sequence number, counted in bytes.
 * A frame that is a slice of a larger chunk is kept as a copy (the chunk would stay alive with
 * it and escape the count); one that is its whole buffer (large frames come so) is kept as is. `null` marks a frame that was skipped below
 * (over the size limit): it only uses up its sequence number.
 */
export class ReorderBuffer {
  private readonly frames = new Map<number, Buffer | null>()
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
    this.frames.set(seq, frame === null || ownsItsMemory(frame) ? frame : Buffer.from(frame))
    this.held += heldBytes(frame)
  }

  /** Removes and returns the frame of `seq`; undefined when it is not held. */
  take (seq: number): Buffer | null | undefined {
    const frame = this.frames.get(seq)
    if (frame === undefined) return undefined
    this.frames.delete(seq)
    this.held -= heldBytes(frame)
    return frame
  }

  /** Lets go of every frame below `seq` (the sender gave them up). */
  dropBelow (seq: number): void {
    for (const [k, frame] of this.frames) {
      if (k >= seq) continue
      this.frames.delete(k)
      this.held -= heldBytes(frame)
    }
  }

  clear (): void {
    this.frames.clear()
    this.held = 0
  }
}
