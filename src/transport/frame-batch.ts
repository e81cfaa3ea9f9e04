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
  hosts: string[]
  lens: number[]
  /** Frame i is `lens[i]` bytes of `buffers[bufs[i]]`, right after the frames before it in that buffer. */
  bufs: number[]
  /** Transferred with the batch. */
  buffers: Uint8Array[]
}

/** Frames collected on the transport thread until the next post. */
export interface FrameBatcher {
  add: (host: string, payload: Uint8Array) => void
  /** The frames added since the last take (null if none); its buffers belong to the caller. */
  take: () => FramesBatch | null
}

export function createFrameBatcher (): FrameBatcher {
  let batch: FramesBatch = { hosts: [], lens: [], bufs: [], buffers: [] }
  let chunk: Uint8Array | null = null
  let chunkUsed = 0
  let spare: Uint8Array | null = null
  return {
    add (host, payload) {
      const n = payload.byteLength
      if (n > OWN_BUFFER_BYTES) {
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
      batch.hosts.push(host)
      batch.lens.push(n)
      batch.bufs.push(batch.buffers.length - 1)
    },
    take () {
      if (batch.hosts.length === 0) return null
      const out = batch
      // A chunk that is set is the batch's last buffer (a frame with its own buffer unsets it).
      if (chunk !== null && chunkUsed <= SPARE_COPY_BYTES) {
        out.buffers[out.buffers.length - 1] = chunk.slice(0, chunkUsed)
        spare = chunk
      }
      batch = { hosts: [], lens: [], bufs: [], buffers: [] }
      chunk = null
      return out
    }
  }
}
