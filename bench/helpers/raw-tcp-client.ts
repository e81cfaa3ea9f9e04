import { createConnection } from 'node:net'
import { rawCounterClient, type RawClient } from './raw-counter.js'

/** The raw peer's client over a bare TCP connection (e.g. between two mesh addresses). */
export async function rawTcpClient (host: string, port: number): Promise<RawClient & { stop: () => void }> {
  const socket = createConnection({ host, port, noDelay: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => {})
  return { ...rawCounterClient(socket), stop: () => { socket.destroy() } }
}
