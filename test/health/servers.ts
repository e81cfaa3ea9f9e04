import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer, type AddressInfo, type Server } from 'node:net'

/** A server on 127.0.0.1 for health-check tests; `close` also drops open connections. */
export interface TestServer {
  port: number
  close: () => Promise<void>
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve() })
  })
  return (server.address() as AddressInfo).port
}

/** An HTTP server answering every request with `handler`. */
export async function httpServer (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = createHttpServer(handler)
  const port = await listen(server)
  return {
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

/** A TCP server that accepts and then says nothing (an HTTP check against it hangs). */
export async function silentServer (): Promise<TestServer> {
  const sockets = new Set<import('node:net').Socket>()
  const server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const port = await listen(server)
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

/** A port on 127.0.0.1 nobody listens on (it was free a moment ago). */
export async function refusedPort (): Promise<number> {
  const server = createServer()
  const port = await listen(server)
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
  return port
}
