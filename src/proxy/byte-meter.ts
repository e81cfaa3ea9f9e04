import type { Socket } from 'node:net'

/**
 * Bytes over a kind of connection: those closed are summed when they close, those open are read
 * from their sockets on demand, so nothing is counted per chunk.
 */
export interface ByteMeter {
  track: (socket: Socket) => void
  totals: () => { in: number, out: number }
}

export function createByteMeter (): ByteMeter {
  const open = new Set<Socket>()
  const closed = { in: 0, out: 0 }
  return {
    track (socket) {
      if (open.has(socket)) return
      open.add(socket)
      socket.once('close', () => {
        open.delete(socket)
        closed.in += socket.bytesRead
        closed.out += socket.bytesWritten
      })
    },
    totals () {
      let i = closed.in
      let o = closed.out
      for (const s of open) { i += s.bytesRead; o += s.bytesWritten }
      return { in: i, out: o }
    }
  }
}
