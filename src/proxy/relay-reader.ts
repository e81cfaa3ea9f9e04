import type { OnReadOpts, Socket } from 'node:net'

const READ_BUFFER_BYTES = 64 * 1024

/**
 * How a machine connection's bytes are read when they only go on to one other socket (TCP
 * pass-through): into a reused buffer (net's `onread`), not a fresh 64 KiB allocation per read —
 * whose page faults and garbage collection were most of a bulk transfer's cost. A new buffer is
 * taken only while the previous one may still be queued on `down`. A full `down` stops the
 * reading (the callback's `false`); the caller starts it again with `read(0)` on `down`'s drain.
 */
export function relayReader (down: () => Socket | null): OnReadOpts {
  let buf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  return {
    buffer: () => {
      const d = down()
      if (d !== null && d.writableLength > 0) buf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
      return buf
    },
    callback: (n: number, chunk: Uint8Array) => {
      const d = down()
      if (d === null || d.destroyed) return false
      return d.write((chunk as Buffer).subarray(0, n))
    }
  }
}
