import { createCodec } from '../src/codec/codec.js'
import { createDhtBootstrap } from '../src/dht/bootstrap.js'
import { silentLogger, createLogger } from '../src/log/logger.js'
import { HyperswarmTransport } from '../src/transport/hyperswarm-transport.js'
import { randomBytes } from 'node:crypto'
const logger = createLogger({ level: 'debug', pretty: true })
const codec = createCodec()
const boot = createDhtBootstrap({ port: 49999 }, { logger })
await boot.start()
const mk = (name: string, secret = 's') => new HyperswarmTransport({ cluster: 'c', secret, seed: randomBytes(32), name, version: '0', bootstrap: [boot.address()] }, { logger: logger.child({ n: name }), codec })
const t0 = Date.now()
const a = mk('a'), b = mk('b'), c = mk('c', 'wrong')
await Promise.all([a.start(), b.start(), c.start()])
console.log('started', Date.now() - t0)
b.on('frame', (h, p) => { console.log('b got', codec.decode(p), Date.now() - t0); b.send(h, codec.encode('pong')) })
a.on('frame', (h, p) => { console.log('a got', codec.decode(p), Date.now() - t0) })
a.send(b.hostId, codec.encode('ping'), (e) => console.log('fail', e))
c.send(b.hostId, codec.encode('evil'), (e) => console.log('c fail', e.message, Date.now() - t0))
await new Promise(r => setTimeout(r, 3000))
console.log(a.peers().map(p => [p.name, p.hostId.slice(0, 8), p.connected]))
await Promise.all([a.stop(), b.stop(), c.stop(), boot.stop()])
console.log('stopped', Date.now() - t0)
