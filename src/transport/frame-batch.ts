import { FRAME_HEADER_BYTES, readFrameLength, writeFrameLength } from '../codec/frame.js'
import type { RingReader, RingWriter } from './frame-ring.js'

/** Small frames are copied into shared chunks of this size; bigger ones get a buffer each. */
const CHUNK_BYTES = 64 * 1024
const OWN_BUFFER_BYTES = 16 * 1024
/**
 * A batch whose last chunk holds at most this many bytes sends a copy of them and keeps the
 * chunk for the next batch: an idle agent's batches are a gossip frame or two, and a fresh
 * 64 KB chunk each (freed only when the agent's thread next collects garbage) kept 10–20 MB
 * of them alive in the agent at idle.
 */
const SPARE_COPY_BYTES = 8 * 1024

/** One batch of frames as the transport thread posts it (see `frames` in transport-thread-messages.ts). */
export interface FramesBatch {
  /**
   * The senders, one per run of frames from the same host: `runs[j]` frames from `hosts[j]`. A
   * flood from one peer is one string per batch, not one per frame (each string crossing the
   * thread boundary is a copy, and a fresh string for the agent to hash).
   */
  hosts: string[]
  runs: number[]
  lens: Int32Array | number[]
  /**
   * Frame i is `lens[i]` bytes of `buffers[bufs[i]]` after a 4-byte length prefix, right after
   * the frames before it in that buffer; or, where `bufs[i]` is -1, in the shared ring: the next pair of `ring` is its offset
   * there and the mark to release once it is handed on.
   */
  bufs: Int32Array | number[]
  /** Transferred with the batch (as are `lens` and `bufs` when typed: a typed array crosses threads as one block, a plain array element by element). */
  buffers: Uint8Array[]
  ring: number[]
  /**
   * The frames the batcher's test found urgent (frame-batch's {@link UrgentTest}), never ring ones:
   * per frame, its index, its buffer and where its bytes start there. The transport thread reads
   * them out, so the agent's thread does not scan every frame of a flood for a few urgent ones.
   */
  urgent: number[]
}

/** Whether the frame `bytes[start, end)` should be handed on ahead of its turn (read on the transport thread as it is batched). */
export type UrgentTest = (bytes: Uint8Array, start: number, end: number) => boolean

/** Counts `n` more items for `host` in run-length form: a run per stretch of consecutive items for the same host. */
export function addToRuns (hosts: string[], runs: number[], host: string, n = 1): void {
  const last = hosts.length - 1
  if (last >= 0 && hosts[last] === host) runs[last] = (runs[last] as number) + n
  else { hosts.push(host); runs.push(n) }
}

/**
 * Below this many numbers a plain array crosses threads for less than a typed one (whose
 * backing store is allocated, transferred and tracked); above it, far less (one block copy
 * instead of a serialization per element).
 */
export const TYPED_FROM = 64

/** The first `count` numbers of `all`, as a typed array when there are many, else as an array. */
export function packed (all: Int32Array, count: number): Int32Array | number[] {
  if (count >= TYPED_FROM) return all.slice(0, count)
  const out = new Array<number>(count)
  for (let i = 0; i < count; i++) out[i] = all[i] as number
  return out
}

/** `list` as a typed array of `typed`'s kind when it holds {@link TYPED_FROM} or more numbers, else as it is. */
export function packedList<T extends Int32Array | Float64Array> (list: number[], typed: { from: (numbers: number[]) => T }): T | number[] {
  return list.length >= TYPED_FROM ? typed.from(list) : list
}

/** The buffers of those of `lists` that are typed arrays (each its own, never pooled), to transfer with them. */
export function typedBuffers (...lists: Array<ArrayLike<number>>): ArrayBuffer[] {
  const out: ArrayBuffer[] = []
  for (const l of lists) if (!Array.isArray(l)) out.push((l as Int32Array | Float64Array).buffer as ArrayBuffer)
  return out
}

/** Frames collected on the transport thread until the next post. */
export interface FrameBatcher {
  add: (host: string, payload: Uint8Array) => void
  /**
   * Adds the whole frames of `bytes[start, end)` (length prefixes included, as received) from
   * `host` until the batch holds `maxFrames`; returns where it stopped (`end` once all are in).
   * Small frames are copied a stretch at a time, prefixes and all: no view per frame.
   */
  addRun: (host: string, bytes: Uint8Array, start: number, end: number, maxFrames: number) => number
  /** The frames added since the last take (null if none); its buffers belong to the caller. */
  take: () => FramesBatch | null
  /** Frames added since the last take. */
  size: () => number
}

/**
 * Small frames are copied into shared chunks (one buffer for many); a large one goes into `ring`
 * while it has room, else into a buffer of its own. In a batch's buffers each frame keeps its
 * 4-byte length prefix (a received stretch of frames is copied as it is); the ring holds payloads only.
 */
export function createFrameBatcher (ring?: RingWriter, urgent?: UrgentTest): FrameBatcher {
  let batch: Omit<FramesBatch, 'lens' | 'bufs'> = { hosts: [], runs: [], buffers: [], ring: [], urgent: [] }
  /** The lengths and buffer indexes of the `count` frames added so far (kept between batches, grown by doubling). */
  let lens = new Int32Array(256)
  let bufs = new Int32Array(256)
  let count = 0
  let chunk: Uint8Array | null = null
  let chunkUsed = 0
  let spare: Uint8Array | null = null

  const record = (n: number, buf: number): void => {
    if (count === lens.length) {
      const more = new Int32Array(count * 2)
      more.set(lens)
      lens = more
      const moreBufs = new Int32Array(count * 2)
      moreBufs.set(bufs)
      bufs = moreBufs
    }
    lens[count] = n
    bufs[count++] = buf
  }
  /** A chunk with room for `bytes` more (the current one, or a new one made the batch's last buffer). */
  const room = (bytes: number): Uint8Array => {
    if (chunk !== null && chunkUsed + bytes <= chunk.byteLength) return chunk
    chunk = spare ?? new Uint8Array(CHUNK_BYTES)
    spare = null
    chunkUsed = 0
    batch.buffers.push(chunk)
    return chunk
  }
  /** A frame over {@link OWN_BUFFER_BYTES}: into the ring if it has room, else a buffer of its own (framed). */
  const large = (payload: Uint8Array): void => {
    const slot = ring?.put(payload) ?? null
    if (slot !== null) {
      batch.ring.push(slot.offset, slot.mark)
      record(payload.byteLength, -1)
      return
    }
    const own = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength)
    writeFrameLength(own, 0, payload.byteLength)
    own.set(payload, FRAME_HEADER_BYTES)
    batch.buffers.push(own)
    chunk = null
    if (urgent?.(own, FRAME_HEADER_BYTES, own.byteLength) === true) batch.urgent.push(count, batch.buffers.length - 1, FRAME_HEADER_BYTES)
    record(payload.byteLength, batch.buffers.length - 1)
  }

  return {
    add (host, payload) {
      const n = payload.byteLength
      if (n > OWN_BUFFER_BYTES) {
        large(payload)
      } else {
        const c = room(FRAME_HEADER_BYTES + n)
        writeFrameLength(c, chunkUsed, n)
        c.set(payload, chunkUsed + FRAME_HEADER_BYTES)
        if (urgent?.(payload, 0, n) === true) batch.urgent.push(count, batch.buffers.length - 1, chunkUsed + FRAME_HEADER_BYTES)
        chunkUsed += FRAME_HEADER_BYTES + n
        record(n, batch.buffers.length - 1)
      }
      addToRuns(batch.hosts, batch.runs, host)
    },
    addRun (host, bytes, start, end, maxFrames) {
      const before = count
      let pos = start
      /** Where the stretch of small frames not yet copied begins. */
      let from = pos
      const copy = (to: number): void => {
        if (to === from) return
        (chunk as Uint8Array).set(bytes.subarray(from, to), chunkUsed)
        chunkUsed += to - from
      }
      while (pos < end && count < maxFrames) {
        const n = readFrameLength(bytes, pos)
        const next = pos + FRAME_HEADER_BYTES + n
        if (next > end) throw new RangeError('a run that ends inside a frame')
        if (n > OWN_BUFFER_BYTES) {
          copy(pos)
          large(bytes.subarray(pos + FRAME_HEADER_BYTES, next))
          from = pos = next
          continue
        }
        if (chunk === null || chunkUsed + (next - from) > chunk.byteLength) {
          copy(pos)
          from = pos
          room(next - pos)
        }
        if (urgent?.(bytes, pos + FRAME_HEADER_BYTES, next) === true) batch.urgent.push(count, batch.buffers.length - 1, chunkUsed + (pos - from) + FRAME_HEADER_BYTES)
        record(n, batch.buffers.length - 1)
        pos = next
      }
      copy(pos)
      const added = count - before
      if (added > 0) addToRuns(batch.hosts, batch.runs, host, added)
      return pos
    },
    take () {
      if (count === 0) return null
      const out: FramesBatch = { ...batch, lens: packed(lens, count), bufs: packed(bufs, count) }
      count = 0
      // A chunk that is set is the batch's last buffer (a frame with its own buffer unsets it).
      if (chunk !== null && chunkUsed <= SPARE_COPY_BYTES) {
        out.buffers[out.buffers.length - 1] = chunk.slice(0, chunkUsed)
        spare = chunk
      }
      batch = { hosts: [], runs: [], buffers: [], ring: [], urgent: [] }
      chunk = null
      return out
    },
    size: () => count
  }
}

/**
 * Reads a batch on the agent's side one frame at a time. No view is made for a frame in the
 * batch's buffers unless asked for (`view`): a batch waiting its turn is its transferred
 * buffers and a few arrays, not a view object per frame that every scavenge would copy while a
 * backlog waits, and a reader that takes `bytes[start, end)` makes none at all.
 */
export interface FrameCursor {
  /** Moves to the next frame (frames taken by `takeUrgent` are passed over); false at the end. Throws RangeError for a batch with more frames than its runs of hosts. */
  next: () => boolean
  /** The current frame's sender. */
  host: string
  /** For a frame in the ring, the mark to release once it is handed on; else -1. */
  mark: number
  /** The current frame is `bytes[start, end)`: the batch buffer it is in, or for a frame in the ring its view there. */
  bytes: Buffer
  start: number
  end: number
  /** The current frame as a view of its own (the ring's view for a ring frame; made on each call otherwise). */
  view: () => Buffer
  /**
   * Takes out, ahead of their turn, the batch's urgent frames (see `FramesBatch.urgent`) not read
   * yet, handing each to `take`; `next` then passes over them. Returns how many were taken.
   */
  takeUrgent: (take: (host: string, payload: Buffer) => void) => number
}

const EMPTY = Buffer.alloc(0)

export function createFrameCursor (batch: FramesBatch, ring: RingReader | undefined): FrameCursor {
  const n = batch.lens.length
  const lens = batch.lens
  const bufs = batch.bufs
  const offs = new Array<number>(batch.buffers.length).fill(0)
  // As Buffers, like the ring's views: whoever reads a frame's bytes sees one kind of array.
  const buffers = batch.buffers.map(b => Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  let taken: Uint8Array | undefined
  let i = 0
  let r = 0
  let run = -1
  let runEnd = 0
  let runHost = ''
  let ringView: Buffer = EMPTY
  const cursor: FrameCursor = {
    host: '',
    mark: -1,
    bytes: EMPTY,
    start: 0,
    end: 0,
    view () {
      if (cursor.mark >= 0) return ringView
      const b = cursor.bytes
      return Buffer.from(b.buffer, b.byteOffset + cursor.start, cursor.end - cursor.start)
    },
    next () {
      for (;;) {
        if (i >= n) return false
        while (i >= runEnd) {
          if (++run >= batch.runs.length) throw new RangeError('a batch with more frames than its runs of hosts')
          runHost = batch.hosts[run] as string
          runEnd += batch.runs[run] as number
        }
        const len = lens[i] as number
        const b = bufs[i] as number
        const skip = taken !== undefined && taken[i] === 1
        i++
        if (b < 0) {
          if (ring === undefined) throw new RangeError('a frame in the ring, and no ring to read it from')
          const at = r
          r += 2
          if (skip) continue
          ringView = ring.view(batch.ring[at] as number, len)
          cursor.host = runHost
          cursor.mark = batch.ring[at + 1] as number
          cursor.bytes = ringView
          cursor.start = 0
          cursor.end = len
          return true
        }
        const off = (offs[b] as number) + FRAME_HEADER_BYTES
        offs[b] = off + len
        if (skip) continue
        cursor.host = runHost
        cursor.mark = -1
        cursor.bytes = buffers[b] as Buffer
        cursor.start = off
        cursor.end = off + len
        return true
      }
    },
    takeUrgent (take) {
      const list = batch.urgent
      let count = 0
      let j = 0
      let runAt = 0
      for (let u = 0; u < list.length; u += 3) {
        const k = list[u] as number
        if (k < i || k >= n) continue
        while (j < batch.runs.length && runAt + (batch.runs[j] as number) <= k) runAt += batch.runs[j++] as number
        if (j >= batch.runs.length) throw new RangeError('a batch with more frames than its runs of hosts')
        taken ??= new Uint8Array(n)
        taken[k] = 1
        count++
        const b = list[u + 1] as number
        const buf = buffers[b] as Buffer
        const at = list[u + 2] as number
        take(batch.hosts[j] as string, buf.subarray(at, at + (lens[k] as number)))
      }
      return count
    }
  }
  return cursor
}

/**
 * Reads a whole batch at once: `fn` gets each frame in order with, for a frame in the ring, the
 * mark to release once it is handed on (else -1).
 */
export function forEachFrame (batch: FramesBatch, ring: RingReader | undefined, fn: (host: string, payload: Buffer, mark: number) => void): void {
  const c = createFrameCursor(batch, ring)
  while (c.next()) fn(c.host, c.view(), c.mark)
}
