import { createCodec } from '../src/codec/codec.js'
import { createDhtBootstrap } from '../src/dht/bootstrap.js'
import { silentLogger } from '../src/log/logger.js'
import { HyperswarmTransport } from '../src/transport/hyperswarm-transport.js'
import { randomBytes } from 'node:crypto'
const logger = silentLogger()
const codec = createCodec()
const boot = createDhtBootstrap({ port: 49998 }, { logger })
await boot.start()
const mk = (name: string, secret = 's') => new HyperswarmTransport({ cluster: 'c', secret, seed: randomBytes(32), name, version: '0', bootstrap: [boot.address()] }, { logger, codec })
let t0 = Date.now()
const ts = [mk('a'), mk('b'), mk('c')]
await Promise.all(ts.map(t => t.start()))
console.log('started', Date.now() - t0)
t0 = Date.now()
while (ts.some(t => t.peers().length < 2) && Date.now() - t0 < 10000) await new Promise(r => setTimeout(r, 50))
console.log('discovered', Date.now() - t0, ts.map(t => t.peers().length))
t0 = Date.now()
const sw = (ts[0] as any).swarm
await sw.clear(); console.log('clear', Date.now() - t0)
await sw.server.close(); console.log('server close', Date.now() - t0)
await ts[0]!.stop()
console.log('stop1', Date.now() - t0)
t0 = Date.now()
await Promise.all([ts[1]!.stop(), ts[2]!.stop(), boot.stop()])
console.log('stopped', Date.now() - t0)
