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
  lens: number[]
  /**
   * Frame i is `lens[i]` bytes of `buffers[bufs[i]]`, right after the frames before it in that
   * buffer; or, where `bufs[i]` is -1, in the shared ring: the next pair of `ring` is its offset
   * there and the mark to release once it is handed on.
   */
  bufs: number[]
  /** Transferred with the batch. */
  buffers: Uint8Array[]
  ring: number[]
}

/** Counts one more item for `host` in run-length form: a run per stretch of consecutive items for the same host. */
export function addToRuns (hosts: string[], runs: number[], host: string): void {
  const last = hosts.length - 1
  if (last >= 0 && hosts[last] === host) runs[last] = (runs[last] as number) + 1
  else { hosts.push(host); runs.push(1) }
}

/** Frames collected on the transport thread until the next post. */
export interface FrameBatcher {
  add: (host: string, payload: Uint8Array) => void
  /** The frames added since the last take (null if none); its buffers belong to the caller. */
  take: () => FramesBatch | null
  /** Frames added since the last take. */
  size: () => number
}

/**
 * Small frames are copied into shared chunks (one buffer for many); a large one goes into `ring`
 * while it has room, else into a buffer of its own.
 */
export function createFrameBatcher (ring?: RingWriter): FrameBatcher {
  let batch: FramesBatch = { hosts: [], runs: [], lens: [], bufs: [], buffers: [], ring: [] }
  let chunk: Uint8Array | null = null
  let chunkUsed = 0
  let spare: Uint8Array | null = null
  return {
    add (host, payload) {
      const n = payload.byteLength
      const slot = n > OWN_BUFFER_BYTES && ring !== undefined ? ring.put(payload) : null
      if (slot !== null) {
        batch.ring.push(slot.offset, slot.mark)
      } else if (n > OWN_BUFFER_BYTES) {
        const own = new Uint8Array(n)
        own.set(payload)
        batch.buffers.push(own)
        chunk = null
      } else {
        if (chunk === null || chunkUsed + n > chunk.byteLength) {
          chunk = spare ?? new Uint8Array(CHUNK_BYTES)
          spare = null
          chunkUsed = 0
          batch.buffers.push(chunk)
        }
        chunk.set(payload, chunkUsed)
        chunkUsed += n
      }
      addToRuns(batch.hosts, batch.runs, host)
      batch.lens.push(n)
      batch.bufs.push(slot !== null ? -1 : batch.buffers.length - 1)
    },
    take () {
      if (batch.lens.length === 0) return null
      const out = batch
      // A chunk that is set is the batch's last buffer (a frame with its own buffer unsets it).
      if (chunk !== null && chunkUsed <= SPARE_COPY_BYTES) {
        out.buffers[out.buffers.length - 1] = chunk.slice(0, chunkUsed)
        spare = chunk
      }
      batch = { hosts: [], runs: [], lens: [], bufs: [], buffers: [], ring: [] }
      chunk = null
      return out
    },
    size: () => batch.lens.length
  }
}

/**
 * Reads a batch on the agent's side: `fn` gets each frame in order with, for a frame in the
 * ring, the mark to release once it is handed on (else -1).
 */
export function forEachFrame (batch: FramesBatch, ring: RingReader | undefined, fn: (host: string, payload: Buffer, mark: number) => void): void {
  const offs = new Array<number>(batch.buffers.length).fill(0)
  let r = 0
  let i = 0
  for (let run = 0; run < batch.runs.length && i < batch.lens.length; run++) {
    const host = batch.hosts[run] as string
    for (const end = Math.min(i + (batch.runs[run] as number), batch.lens.length); i < end; i++) {
      const n = batch.lens[i] as number
      const b = batch.bufs[i] as number
      if (b < 0) {
        if (ring === undefined) throw new RangeError('a frame in the ring, and no ring to read it from')
        fn(host, ring.view(batch.ring[r] as number, n), batch.ring[r + 1] as number)
        r += 2
        continue
      }
      const buf = batch.buffers[b] as Uint8Array
      const off = offs[b] as number
      fn(host, Buffer.from(buf.buffer, buf.byteOffset + off, n), -1)
      offs[b] = off + n
    }
  }
  if (i < batch.lens.length) throw new RangeError('a batch with more frames than its runs of hosts')
}
