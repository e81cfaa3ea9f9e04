import test from 'ava'
import { httpCheck } from '../../src/health/http-check.js'
import { httpServer, refusedPort, silentServer } from './servers.js'

test('http check passes on 200 and reports the status', async t => {
  const seen: string[] = []
  const server = await httpServer((req, res) => {
    seen.push(`${req.method ?? ''} ${req.url ?? ''}`)
    res.end('ok')
  })
  t.teardown(server.close)
  const result = await httpCheck({ host: '127.0.0.1', port: server.port, path: '/healthz', timeoutMs: 2000 })
  t.is(result.status, 'passing')
  t.regex(result.output, /^HTTP 200 after \d+ ms$/)
  t.deepEqual(seen, ['GET /healthz'])
})

test('http check passes on a redirect and uses HEAD when asked', async t => {
  const seen: string[] = []
  const server = await httpServer((req, res) => {
    seen.push(req.method ?? '')
    res.writeHead(302, { location: '/elsewhere' }).end()
  })
  t.teardown(server.close)
  const result = await httpCheck({ host: '127.0.0.1', port: server.port, method: 'HEAD', timeoutMs: 2000 })
  t.is(result.status, 'passing')
  t.regex(result.output, /^HTTP 302 /)
  t.deepEqual(seen, ['HEAD'])
})

test('http check fails on 503', async t => {
  const server = await httpServer((_req, res) => { res.writeHead(503).end('down') })
  t.teardown(server.close)
  const result = await httpCheck({ host: '127.0.0.1', port: server.port, timeoutMs: 2000 })
  t.is(result.status, 'critical')
  t.regex(result.output, /^HTTP 503 after \d+ ms$/)
})

test('http check fails with the connect error when refused', async t => {
  const port = await refusedPort()
  const result = await httpCheck({ host: '127.0.0.1', port, timeoutMs: 2000 })
  t.is(result.status, 'critical')
  t.is(result.output, `connect ECONNREFUSED 127.0.0.1:${port}`)
})

test('http check times out against a server that never answers', async t => {
  const server = await silentServer()
  t.teardown(server.close)
  const result = await httpCheck({ host: '127.0.0.1', port: server.port, path: '/slow', timeoutMs: 200 })
  t.is(result.status, 'critical')
  t.is(result.output, `GET http://127.0.0.1:${server.port}/slow timed out after 200 ms`)
})

test('http check times out when the server reads the request but never answers', async t => {
  const server = await httpServer(() => { /* never answers */ })
  t.teardown(server.close)
  const result = await httpCheck({ host: '127.0.0.1', port: server.port, timeoutMs: 200 })
  t.is(result.status, 'critical')
  t.regex(result.output, /timed out after 200 ms$/)
})
