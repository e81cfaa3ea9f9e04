import test from 'ava'
import { silentLogger } from '../../src/log/logger.js'
import { createDataPlaneThread } from '../../src/proxy/data-plane-thread.js'
import type { ListenerState } from '../../src/proxy/data-plane-view.js'
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
