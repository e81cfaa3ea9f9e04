import { request, type IncomingHttpHeaders } from 'node:http'
import { createServer, type Socket } from 'node:net'
import test, { type ExecutionContext } from 'ava'
import { BackhaulStatus } from '../../src/proxy/backhaul-header.js'
import type { RouteTable } from '../../src/proxy/route-table.js'
import { retry } from '../helpers/retry.js'
import { appRoute, freePort, httpService, listening, machineAt, startBackend, startDataPlane, tableOf, type Backend } from './dp-harness.js'

// A machine's host dies: nothing it had will ever answer, and no packet says so. Once
// membership suspects the host, the edge router stops waiting on it: a request still connecting
// there, or sent there and unanswered, goes to another machine if it is idempotent; a POST (it
// may have been acted on) is left to its response timeout.

const B = 'b'.repeat(64)

interface Silent { port: number, chunks: Buffer[] }

/** A backhaul on "host B" that takes connections and never answers a request; `admit`: it first sends the OK status byte, so the request is sent and waits for its response. */
async function silentBackhaul (t: ExecutionContext, admit: boolean): Promise<Silent> {
  const sockets = new Set<Socket>()
  const state: Silent = { port: 0, chunks: [] }
  const server = createServer(s => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('data', (c: Buffer) => { state.chunks.push(c) })
    if (admit) s.once('data', () => { s.write(Buffer.from([BackhaulStatus.OK])) })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as { port: number }).port
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close() })
  return state
}

interface Got { status: number, headers: IncomingHttpHeaders, body: string }

/** One request on a connection of its own; rejects after `timeoutMs` without an answer. */
async function send (port: number, method: string, timeoutMs: number): Promise<Got> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method, agent: false, timeout: timeoutMs }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }) })
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer to ${method} within ${timeoutMs} ms`)) })
    req.on('error', reject)
    req.end(method === 'POST' ? 'x' : undefined)
  })
}

/** The app: `far` on host B (passing its checks, so chosen first), `near` here (still warning: only when nothing else is left). */
function tables (port: number, backhaulPort: number, ok: Backend): (hostState: string) => RouteTable {
  const far = machineAt(1, { host: B, local: false, endpoint: null })
  const near = machineAt(ok.port, { health: 'warning' })
  return (hostState) => tableOf([appRoute('web', [far, near], [httpService(port)])], {
    hosts: { [B]: { id: B, name: 'b', region: 'ams', state: hostState, rttMs: 1, backhaul: { address: '127.0.0.1', port: backhaulPort } } }
  })
}

const received = (s: Silent): string => Buffer.concat(s.chunks).toString('latin1')

test('http: requests sent to a host that went silent go to another machine once the host is suspect; a POST is not sent again', async t => {
  const ok = await startBackend(t, 'ok')
  const silent = await silentBackhaul(t, true)
  const port = await freePort()
  const dp = await startDataPlane(t, { limits: { responseTimeoutMs: 5_000 } })
  const table = tables(port, silent.port, ok)
  dp.setRoutes(table('alive'))
  await listening(dp)
  const got = send(port, 'GET', 60_000)
  const posted = send(port, 'POST', 60_000)
  await retry(() => (received(silent).match(/(GET|POST) \/ HTTP\/1\.1/g) ?? []).length === 2, { timeoutMs: 10_000, what: 'both requests sent to host B' })
  dp.setRoutes(table('suspect'))
  const g = await got
  t.is(g.status, 200)
  t.is((JSON.parse(g.body) as { machine: string }).machine, 'ok', 'the GET went to the other machine')
  const p = await posted
  t.is(p.headers['roost-error'], 'PR14', 'the POST waited for its response timeout')
  t.is(ok.requests, 1, 'only the GET was sent again')
})

test('http: a request still connecting to a host that went silent goes to another machine once the host is suspect', async t => {
  const ok = await startBackend(t, 'ok')
  const silent = await silentBackhaul(t, false)
  const port = await freePort()
  // The backhaul's answer would be awaited for twice this: far beyond the client's patience.
  const dp = await startDataPlane(t, { limits: { connectTimeoutMs: 120_000 } })
  const table = tables(port, silent.port, ok)
  dp.setRoutes(table('alive'))
  await listening(dp)
  const got = send(port, 'GET', 30_000)
  await retry(() => silent.chunks.length > 0, { timeoutMs: 10_000, what: 'the backhaul connection to host B' })
  dp.setRoutes(table('dead'))
  const g = await got
  t.is(g.status, 200)
  t.is((JSON.parse(g.body) as { machine: string }).machine, 'ok')
})
