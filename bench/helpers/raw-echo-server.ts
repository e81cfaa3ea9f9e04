import HyperDHT from 'hyperdht'
import Hyperswarm from 'hyperswarm'
import { serveRawCounter } from './raw-counter.js'

// The raw peer of the messaging bench: a bare hyperswarm server with roost's framing and
// codec and nothing else. It answers frames that ask for it ({ask: true}), counts the rest.
const [bootstrapArg, topicHex] = process.argv.slice(2)
const [bhost, bport] = (bootstrapArg ?? '').split(':')
const dht = new HyperDHT({ bootstrap: [{ host: bhost ?? '127.0.0.1', port: Number(bport) }], host: '127.0.0.1', firewalled: false })
await dht.ready()
const swarm = new Hyperswarm({ dht })
swarm.on('connection', (stream) => {
  stream.on('error', () => {})
  serveRawCounter(stream)
})
await swarm.join(Buffer.from(topicHex ?? '', 'hex'), { server: true, client: false }).flushed()
process.stdout.write(JSON.stringify({ publicKey: swarm.keyPair.publicKey.toString('hex') }) + '\n')
process.on('SIGTERM', () => { swarm.destroy().finally(() => process.exit(0)) })
