import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import { FrameWriter } from '../../src/codec/frame-writer.js'

// The raw peer of the messaging bench: a bare hyperswarm server with roost's framing and
// codec and nothing else. It answers frames that ask for it ({ask: true}), counts the rest.
const [bootstrapArg, topicHex] = process.argv.slice(2)
const [bhost, bport] = (bootstrapArg ?? '').split(':')
const codec = createCodec()
const dht = new HyperDHT({ bootstrap: [{ host: bhost ?? '127.0.0.1', port: Number(bport) }], host: '127.0.0.1', firewalled: false })
await dht.ready()
const swarm = new Hyperswarm({ dht })
swarm.on('connection', (stream) => {
  let count = 0
  const writer = new FrameWriter(stream)
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const msg = codec.decode(payload) as { seq: number, ask?: boolean, payload?: string }
      count++
      if (msg.ask !== true) return
      writer.write(codec.encode({ seq: msg.seq, count, payload: msg.payload }))
    },
    onError: () => {}
  })
  stream.on('data', (c: Buffer) => { decoder.push(c) })
  stream.on('error', () => {})
})
await swarm.join(Buffer.from(topicHex ?? '', 'hex'), { server: true, client: false }).flushed()
process.stdout.write(JSON.stringify({ publicKey: swarm.keyPair.publicKey.toString('hex') }) + '\n')
process.on('SIGTERM', () => { swarm.destroy().finally(() => process.exit(0)) })
