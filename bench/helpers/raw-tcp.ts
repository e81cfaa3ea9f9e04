import { createConnection, createServer, type Socket } from 'node:net'
import { rawCounterClient, serveRawCounter, type DispatchPeer } from './raw-counter.js'

// The raw peer of the mesh bench: a bare TCP connection with roost's framing and codec, between
// two hosts' mesh addresses (so its traffic crosses the same WireGuard tunnel as the agents').

/** A server on `host:port`. */
export async function rawTcpServer (host: string, port: number): Promise<{ stop: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => { sockets.delete(socket) })
    socket.on('error', () => {})
    serveRawCounter(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port }, () => { server.off('error', reject); resolve() })
  })
  return {
    stop: async () => {
      const closed = new Promise(resolve => { server.close(resolve) })
      for (const s of sockets) s.destroy()
      await closed
    }
  }
}

/** A client connected to `host:port`. */
export async function rawTcpClient (host: string, port: number): Promise<DispatchPeer & { stop: () => Promise<void> }> {
  const socket = createConnection({ host, port, noDelay: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => {})
  return { ...rawCounterClient(socket), stop: async () => { socket.destroy() } }
}
