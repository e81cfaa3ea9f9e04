import test from 'ava'
import { silentLogger } from '../../src/log/logger.js'
import { createDataPlaneThread } from '../../src/proxy/data-plane-thread.js'
import type { ListenerState } from '../../src/proxy/data-plane-view.js'
import type { RouterErrorReport } from '../../src/proxy/router-errors.js'
import { retry } from '../helpers/retry.js'
import { appRoute, BACKHAUL_KEY, CERT_KEY, freePort, httpService, machineAt, startBackend, tableOf } from './dp-harness.js'

// The data plane on its own worker thread, driven by messages as the router actor drives it.

test('the thread serves the routes it is posted, reports its listeners to current subscribers only, and stops', async t => {
  const backend = await startBackend(t, 'threaded')
  const port = await freePort()
  const thread = createDataPlaneThread({
    hostId: 'a'.repeat(64), region: 'ams', domain: 'roost.test', proxyAddress: '127.0.0.1', backhaulKey: BACKHAUL_KEY,
    certKey: CERT_KEY, ca: null, logLevel: 'silent', logBase: {}, statsIntervalMs: 50
  }, { logger: silentLogger() })
  await thread.start()
  t.teardown(async () => { await thread.stop() })
  await thread.start()
  const seen: string[] = []
  const gone: string[] = []
  thread.on('listener', (s: ListenerState) => { seen.push(`${s.port}:${s.state}`) })
  const off = thread.on('listener', (s: ListenerState) => { gone.push(`${s.port}:${s.state}`) })
  off()
  let stats = 0
  thread.on('stats', () => { stats++ })
  thread.setRoutes(tableOf([appRoute('web', [machineAt(backend.port)], [httpService(port)])]))
  await retry(() => seen.length > 0, { what: 'the listener event' })
  t.deepEqual(seen, [`${port}:listening`])
  t.deepEqual(gone, [], 'an unsubscribed listener hears nothing')
  const res = await fetch(`http://127.0.0.1:${port}/`)
  t.is(res.status, 200)
  t.is((await res.json() as { machine: string }).machine, 'threaded')
  const snap = await thread.snapshot()
  t.is(snap.apps[0]?.counters['2xx'], 1)
  t.true(snap.loop.activeMs > 0)
  await retry(() => stats >= 2, { what: 'periodic stats' })
  await thread.stop()
  await t.throwsAsync(thread.snapshot(), { message: /not running/ })
})

test('router errors cross from the thread in batches: a burst of failing requests is one report with its count', async t => {
  const port = await freePort()
  const thread = createDataPlaneThread({
    hostId: 'a'.repeat(64), region: 'ams', domain: 'roost.test', proxyAddress: '127.0.0.1', backhaulKey: BACKHAUL_KEY,
    certKey: CERT_KEY, ca: null, logLevel: 'silent', logBase: {}, statsIntervalMs: 50, limits: { routerErrorWindowMs: 300 }
  }, { logger: silentLogger() })
  await thread.start()
  t.teardown(async () => { await thread.stop() })
  const batches: RouterErrorReport[][] = []
  thread.on('router-errors', (errors) => { batches.push(errors) })
  let listening = false
  thread.on('listener', (s: ListenerState) => { listening = s.state === 'listening' })
  thread.setRoutes(tableOf([appRoute('web', [], [httpService(port)])]))
  await retry(() => listening, { what: 'the listener' })
  for (let i = 0; i < 20; i++) t.is((await fetch(`http://127.0.0.1:${port}/`)).headers.get('roost-error'), 'PR01')
  await retry(() => batches.flat().reduce((n, r) => n + r.count, 0) === 20, { what: `20 errors reported (have ${JSON.stringify(batches)})` })
  t.true(batches.length < 20, `${batches.length} messages for 20 errors`)
  t.true(batches.flat().every(r => r.app === 'web' && r.code === 'PR01'))
})
