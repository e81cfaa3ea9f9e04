import { createServer } from 'node:net'
import { serveRawCounter } from './raw-counter.js'

// The raw peer of the mesh bench: a bare TCP server with roost's framing and codec, listening on
// a host's mesh address (so its traffic crosses the same WireGuard tunnel as the agents').
const [host, portArg] = process.argv.slice(2)
const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {})
  serveRawCounter(socket)
})
server.listen({ host, port: Number(portArg) }, () => { process.stdout.write(JSON.stringify({ listening: `${host ?? ''}:${portArg ?? ''}` }) + '\n') })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
