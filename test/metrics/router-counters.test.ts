import test from 'ava'
import { Registry } from 'prom-client'
import { countOf } from '../../src/metrics/bucket-histogram.js'
import { registerRouterMetrics } from '../../src/metrics/router-metrics.js'
import { createScrapeClock } from '../../src/metrics/scrape-cache.js'
import { createRouterCounters, MAX_APPS } from '../../src/proxy/router-counters.js'
import { parsePromText, sumOf } from '../helpers/prom-text.js'

test('answers are kept per app, handler and result with their latencies; apps past the cap are other', t => {
  const c = createRouterCounters()
  c.answered('web', 'http', '2xx', 0.002)
  c.answered('web', 'http', '2xx', 0.2)
  c.answered('web', 'http', 'PR01', 0.0001)
  c.answered('db', 'tcp', 'connected', 0.01)
  for (let i = 0; i < MAX_APPS + 5; i++) c.answered(`app-${i}`, 'http', '2xx', 0.001)
  const answers = c.answers()
  const web = answers.find(a => a.app === 'web' && a.result === '2xx')
  t.is(web === undefined ? 0 : countOf(web.latency), 2)
  t.is(web?.latency.sum, 0.202)
  t.is(answers.filter(a => a.app === 'other').length, 1)
  t.is(countOf(answers.find(a => a.app === 'other')?.latency ?? { bounds: [], counts: [], sum: 0 }), 7, 'the 1000 cap, less web and db, leaves 7 apps over it')
  c.accepted('http')
  c.accepted('tls')
  t.deepEqual(c.connections(), { http: 1, tcp: 0, tls: 1 })
})

test('the router metrics read the data plane\'s counters once per scrape and serve them as counters and histograms', async t => {
  const c = createRouterCounters()
  c.answered('web', 'https', '5xx', 0.03)
  let asked = 0
  const registry = new Registry()
  const scrapes = createScrapeClock()
  registerRouterMetrics(registry, scrapes, {
    metrics: async () => {
      asked++
      return { answers: c.answers(), connections: c.connections(), open: 4, backhaul: { edge: { in: 10, out: 20 }, hosted: { in: 1, out: 2 } }, loop: { activeMs: 1500, idleMs: 10 } }
    }
  })
  scrapes.next()
  const s = parsePromText(await registry.metrics())
  t.is(asked, 1)
  t.is(sumOf(s, 'roost_router_requests_total', { app: 'web', handler: 'https', result: '5xx' }), 1)
  t.is(sumOf(s, 'roost_router_request_duration_seconds_bucket', { app: 'web', le: '0.05' }), 1)
  t.is(sumOf(s, 'roost_router_request_duration_seconds_bucket', { app: 'web', le: '0.025' }), 0)
  t.is(sumOf(s, 'roost_router_open_connections'), 4)
  t.is(sumOf(s, 'roost_backhaul_bytes_total', { side: 'edge', direction: 'out' }), 20)
  t.is(sumOf(s, 'roost_data_plane_busy_seconds_total'), 1.5)
})
