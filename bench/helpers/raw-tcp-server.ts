import { createServer } from 'node:net'
import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import { FrameWriter } from '../../src/codec/frame-writer.js'

// The raw peer of the mesh bench: a bare TCP server with roost's framing and codec, listening on
// a host's mesh address (so its traffic crosses the same WireGuard tunnel as the agents').
// It answers frames that ask for it ({ask: true}) and counts the rest.
const [host, portArg] = process.argv.slice(2)
const codec = createCodec()
const server = createServer({ noDelay: true }, (socket) => {
  let count = 0
  const writer = new FrameWriter(socket)
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const msg = codec.decode(payload) as { seq: number, ask?: boolean, payload?: string }
      count++
      if (msg.ask !== true) return
      writer.write(codec.encode({ seq: msg.seq, count, payload: msg.payload }))
    },
    onError: () => {}
  })
  socket.on('data', (c: Buffer) => { decoder.push(c) })
  socket.on('error', () => {})
})
server.listen({ host, port: Number(portArg) }, () => { process.stdout.write(JSON.stringify({ listening: `${host ?? ''}:${portArg ?? ''}` }) + '\n') })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
