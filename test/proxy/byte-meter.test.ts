import test from 'ava'
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { createByteMeter } from '../../src/proxy/byte-meter.js'
import { retry } from '../helpers/retry.js'

test('a byte meter counts open sockets as they are and closed ones once', async t => {
  const server = createServer((s) => { s.on('data', (d) => s.write(d)) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  const { port } = server.address() as { port: number }
  const meter = createByteMeter()
  const s: Socket = connect(port, '127.0.0.1')
  await once(s, 'connect')
  // Read what comes back: a paused socket never sees the server's FIN, so it would never close.
  s.resume()
  meter.track(s)
  meter.track(s)
  s.write('hello')
  await retry(() => meter.totals().in === 5, { what: 'the echo read' })
  t.deepEqual(meter.totals(), { in: 5, out: 5 })
  s.end()
  await once(s, 'close')
  t.deepEqual(meter.totals(), { in: 5, out: 5 }, 'a closed socket counts once, not twice')
})
