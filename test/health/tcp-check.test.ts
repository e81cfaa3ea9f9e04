import test from 'ava'
import { tcpCheck } from '../../src/health/tcp-check.js'
import { refusedPort, silentServer } from './servers.js'

test('tcp check passes when the port accepts', async t => {
  const server = await silentServer()
  t.teardown(server.close)
  const result = await tcpCheck({ host: '127.0.0.1', port: server.port, timeoutMs: 2000 })
  t.is(result.status, 'passing')
  t.regex(result.output, new RegExp(`^connected to 127\\.0\\.0\\.1:${server.port} after \\d+ ms$`))
})

test('tcp check fails with the connect error when refused', async t => {
  const port = await refusedPort()
  const result = await tcpCheck({ host: '127.0.0.1', port, timeoutMs: 2000 })
  t.is(result.status, 'critical')
  t.is(result.output, `connect ECONNREFUSED 127.0.0.1:${port}`)
})
