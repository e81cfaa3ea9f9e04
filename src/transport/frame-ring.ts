/** Bytes of the ring the transport thread writes received frames into. */
export const DEFAULT_RING_BYTES = 4 * 1024 * 1024
/** Frames larger than this share of the ring are sent as buffers of their own. */
const MAX_SHARE = 4
const HEADER_BYTES = 64
/** Positions are exchanged modulo 2^31 (they fit an Int32Array slot for Atomics). */
const WRAP = 2 ** 31

/**
 * Memory the transport thread and the actors' thread share for large received frames: the
 * thread copies a frame in and posts where it is; the agent reads it there and, once it has
 * handed the frame on, stores how far it has read. No buffer is allocated, transferred and
 * collected per large frame on the actors' thread — each one a backing store its garbage
 * collector had to sweep, and external memory that brought the next full collection closer (a
 * peer's flood of large out-of-order frames made those the longest pauses of the actor loop).
 * Small frames stay in shared chunks (frame-batch.ts): one buffer carries many, and msgpackr's
 * native string reader refuses shared memory (it falls back to JavaScript after a throw, once
 * per decode — nothing next to a large frame's cost, a lot next to a small one's).
 */
export interface RingMemory {
  /** The shared memory: a header (the reader's position) then the ring. */
  readonly shared: SharedArrayBuffer
}

export function createRingMemory (bytes: number = DEFAULT_RING_BYTES): RingMemory {
  if (!Number.isInteger(bytes) || bytes < 1024 || bytes > 2 ** 30) throw new RangeError(`ring size must be 1 KiB–1 GiB, not ${bytes}`)
  return { shared: new SharedArrayBuffer(HEADER_BYTES + bytes) }
}

/** Where a frame was put: its offset in the ring and the writer's position after it (the reader stores it once the frame is handed on). */
export interface RingSlot { offset: number, mark: number }

/** The transport thread's side. */
export interface RingWriter {
  /** Copies `payload` in; null when it is too large for the ring or the ring has no room (the caller sends it another way). */
  put: (payload: Uint8Array) => RingSlot | null
  /** Bytes written and not yet read. */
  used: () => number
}

export function createRingWriter (memory: RingMemory): RingWriter {
  const read = new Int32Array(memory.shared, 0, 1)
  const data = new Uint8Array(memory.shared, HEADER_BYTES)
  const size = data.byteLength
  const maxFrame = Math.floor(size / MAX_SHARE)
  /** Absolute bytes written (padding included). */
  let written = 0
  /** Written bytes below this are free whatever the reader says (the writer went back to the ring's start when it was empty). */
  let freeBelow = 0

  const readAbs = (): number => {
    const behind = ((written % WRAP) - Atomics.load(read, 0) + WRAP) % WRAP
    return Math.max(written - behind, freeBelow)
  }

  return {
    put (payload) {
      const n = payload.byteLength
      if (n > maxFrame) return null
      let used = written - readAbs()
      let pos = written % size
      if (used === 0 && pos !== 0) {
        // Empty: start again at the ring's start, so a quiet agent keeps touching the same few pages.
        written += size - pos
        freeBelow = written
        used = 0
        pos = 0
      }
      const pad = pos + n > size ? size - pos : 0
      if (used + pad + n > size) return null
      written += pad
      const offset = written % size
      data.set(payload, offset)
      written += n
      return { offset, mark: written % WRAP }
    },
    used: () => written - readAbs()
  }
}

/** The actors' thread's side. */
export interface RingReader {
  /** A view of `len` bytes at `offset`, valid until the frame has been handed on (`end`) and `release` has run. */
  view: (offset: number, len: number) => Buffer
  /**
   * Brackets the handing on of one frame in the ring (`mark` as posted), `begin` before and `end`
   * after: in between, whoever gets the frame may hold it in place with {@link holdInPlace}
   * instead of copying it.
   */
  begin: (frame: Buffer, mark: number) => void
  end: () => void
  /** Lets the writer reuse what has been handed on, up to the first frame still held. */
  release: () => void
}

interface Hold { start: number, live: boolean, frame: Buffer, move: (copy: Buffer) => void }

/** Per ring memory, the reader that can hold its frames in place. */
const readers = new WeakMap<SharedArrayBuffer, { hold: (frame: Buffer, move: (copy: Buffer) => void) => (() => void) | undefined }>()

export function createRingReader (memory: RingMemory): RingReader {
  const read = new Int32Array(memory.shared, 0, 1)
  const size = memory.shared.byteLength - HEADER_BYTES
  let handedOn = -1
  let stored = -1
  let current: Buffer | undefined
  let currentMark = -1
  const holds: Hold[] = []
  let head = 0

  const hold = (frame: Buffer, move: (copy: Buffer) => void): (() => void) | undefined => {
    if (current === undefined || frame.buffer !== current.buffer || frame.byteOffset !== current.byteOffset) return undefined
    const h: Hold = { start: (currentMark - current.byteLength + WRAP) % WRAP, live: true, frame, move }
    holds.push(h)
    return () => { h.live = false }
  }
  const blocked = (h: Hold): number => (handedOn - h.start + WRAP) % WRAP
  const firstLive = (): Hold | undefined => {
    while (head < holds.length && !(holds[head] as Hold).live) head++
    return holds[head]
  }
  readers.set(memory.shared, { hold })

  return {
    view: (offset, len) => Buffer.from(memory.shared, HEADER_BYTES + offset, len),
    begin (frame, mark) {
      current = frame
      currentMark = mark
    },
    end () {
      current = undefined
      handedOn = currentMark
    },
    release () {
      // Held frames that keep over half the ring from the writer move out (copied), the oldest first.
      for (let h = firstLive(); h !== undefined && blocked(h) > size / 2; h = firstLive()) {
        h.live = false
        h.move(Buffer.from(h.frame))
      }
      if (head === holds.length) {
        holds.length = 0
        head = 0
      } else if (head > 64 && head * 2 > holds.length) {
        holds.splice(0, head)
        head = 0
      }
      const h = holds[head]
      const to = h !== undefined ? h.start : handedOn
      if (to < 0 || to === stored) return
      stored = to
      Atomics.store(read, 0, to)
    }
  }
}

/**
 * Holds a frame that is being handed on from a ring where it is (the ring is not reused past it
 * until the returned function is called); undefined when `frame` is not such a frame (copy it).
 * The frame must be read synchronously after letting go of it. Should it keep too much of the
 * ring from the writer, it is copied out and `move` gets the copy to hold instead.
 */
export function holdInPlace (frame: Buffer, move: (copy: Buffer) => void): (() => void) | undefined {
  if (!isSharedView(frame)) return undefined
  return readers.get(frame.buffer as SharedArrayBuffer)?.hold(frame, move)
}

/** Whether `frame` is a view of shared memory (a ring's): it must be copied to be kept. */
export function isSharedView (frame: Uint8Array): boolean {
  return frame.buffer instanceof SharedArrayBuffer
}
