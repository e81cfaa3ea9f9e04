import test from 'ava'
import { createAgentMetrics } from '../../src/metrics/agent-metrics.js'
import { metricsEndpoint } from '../../src/metrics/metrics-endpoint.js'
import { TOKEN, startApi } from '../api/machines/fake-backend.js'
import { parsePromText } from '../helpers/prom-text.js'

const auth = { authorization: `Bearer ${TOKEN}` }

test('/metrics answers 401 without the token, and the Prometheus text format with it', async t => {
  const metrics = createAgentMetrics()
  const { url } = await startApi(t, { extensions: [metricsEndpoint({ public: false }, { metrics })] })
  const denied = await fetch(`${url}/metrics`)
  t.is(denied.status, 401)
  t.is((await denied.json() as { code: string }).code, 'ERR_UNAUTHORIZED')
  const ok = await fetch(`${url}/metrics`, { headers: auth })
  t.is(ok.status, 200)
  t.is(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const samples = parsePromText(await ok.text())
  t.true(samples.some(s => s.name === 'process_cpu_user_seconds_total'), 'Node\'s default metrics')
  t.is((await fetch(`${url}/v1/health`)).status, 401, 'the Machines API still wants the token')
})

test('with --metrics-public, /metrics answers without the token; only GET and HEAD are allowed', async t => {
  const { url } = await startApi(t, { extensions: [metricsEndpoint({ public: true }, { metrics: createAgentMetrics() })] })
  t.is((await fetch(`${url}/metrics`)).status, 200)
  const head = await fetch(`${url}/metrics`, { method: 'HEAD' })
  t.is(head.status, 200)
  t.is(await head.text(), '')
  const post = await fetch(`${url}/metrics`, { method: 'POST' })
  t.is(post.status, 405)
  t.is(post.headers.get('allow'), 'GET, HEAD')
  t.is((await fetch(`${url}/v1/health`)).status, 401)
})

test('each agent has its own registry: two in one process do not see each other\'s series', async t => {
  const a = createAgentMetrics()
  const b = createAgentMetrics()
  a.messages.sent('a'.repeat(64), 'x.y', 10)
  t.regex(await a.text(), /roost_messages_sent_total\{peer="aaaaaaaaaaaa",type="x\.y"\} 1/)
  t.notRegex(await b.text(), /roost_messages_sent_total\{/)
})
