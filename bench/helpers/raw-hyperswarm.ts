import { randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type NoiseStream } from 'hyperswarm'
import { dhtPortOption } from '../../src/dht/defaults.js'
import { rawCounterClient, serveRawCounter, type DispatchPeer } from './raw-counter.js'

// The raw peer of the messaging bench: a bare hyperswarm stream with roost's framing and codec
// and nothing else, over its own DHT node on the same bootstrap as the agents.

type Bootstrap = { host: string, port: number }

/** A server on a fresh topic; clients connect to its public key. */
export async function rawHyperswarmServer (bootstrap: Bootstrap, host: string): Promise<{ publicKey: string, stop: () => Promise<void> }> {
  const dht = new HyperDHT({ bootstrap: [bootstrap], host, port: dhtPortOption(0), firewalled: false })
  await dht.ready()
  const swarm = new Hyperswarm({ dht })
  swarm.on('connection', (stream: NoiseStream) => {
    stream.on('error', () => {})
    serveRawCounter(stream)
  })
  await swarm.join(randomBytes(32), { server: true, client: false }).flushed()
  return { publicKey: swarm.keyPair.publicKey.toString('hex'), stop: async () => { await swarm.destroy() } }
}

/** A client connected to the server with `publicKey`. */
export async function rawHyperswarmClient (bootstrap: Bootstrap, host: string, publicKey: string): Promise<DispatchPeer & { stop: () => Promise<void> }> {
  const dht = new HyperDHT({ bootstrap: [bootstrap], host, port: dhtPortOption(0), firewalled: false })
  await dht.ready()
  const swarm = new Hyperswarm({ dht })
  const stream = await new Promise<NoiseStream>(resolve => {
    swarm.once('connection', (s: NoiseStream) => { resolve(s) })
    swarm.joinPeer(Buffer.from(publicKey, 'hex'))
  })
  stream.on('error', () => {})
  return { ...rawCounterClient(stream), stop: async () => { await swarm.destroy() } }
}
