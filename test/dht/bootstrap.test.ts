import { spawn } from 'node:child_process'
import test from 'ava'
import { freeUdpPort } from '../../src/cli/local-cluster.js'
import { createDhtBootstrap } from '../../src/dht/bootstrap.js'
import { silentLogger } from '../../src/log/logger.js'
import { BIN } from '../helpers/cli.js'
import { retry } from '../helpers/retry.js'
import { udpBoundAddresses } from '../helpers/udp-bound.js'

test('a DHT bootstrap node binds the host it is given, not every address', async t => {
  const port = await freeUdpPort()
  const node = createDhtBootstrap({ host: '127.0.0.1', port }, { logger: silentLogger() })
  t.teardown(async () => { await node.stop() })
  await node.start()
  t.deepEqual(await udpBoundAddresses(port), ['127.0.0.1'])
})

test('roost dht --host 127.0.0.1 binds 127.0.0.1 only', async t => {
  const port = await freeUdpPort()
  const child = spawn(process.execPath, [BIN, 'dht', '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  await retry(() => out.includes('listening on'), { timeoutMs: 20_000, what: 'roost dht listening' })
  t.deepEqual(await udpBoundAddresses(port), ['127.0.0.1'])
  child.kill('SIGTERM')
  await new Promise(resolve => { child.once('exit', resolve) })
})
