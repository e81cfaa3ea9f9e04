import { createCodec } from '../src/codec/codec.js'
import { createDhtBootstrap } from '../src/dht/bootstrap.js'
import { silentLogger } from '../src/log/logger.js'
import { HyperswarmTransport } from '../src/transport/hyperswarm-transport.js'
import { randomBytes } from 'node:crypto'
const logger = silentLogger()
const codec = createCodec()
const boot = createDhtBootstrap({ port: 49997 }, { logger })
await boot.start()
const mk = (name: string, secret = 's') => new HyperswarmTransport({ cluster: 'c', secret, seed: randomBytes(32), name, version: '0', bootstrap: [boot.address()] }, { logger, codec })
let t0 = Date.now()
const ts = [mk('a'), mk('b'), mk('c')]
await Promise.all(ts.map(t => t.start()))
ts[0]!.send(ts[1]!.hostId, codec.encode('x'))
await new Promise(r => setTimeout(r, 500))
for (const t of ts) { t0 = Date.now(); await t.stop(); console.log('stop', Date.now() - t0) }
t0 = Date.now(); await boot.stop(); console.log('boot stop', Date.now() - t0)
