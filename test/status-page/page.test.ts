import anyTest, { type TestFn } from 'ava'
import { chromium, type Browser } from 'playwright-core'
import type { ApiExtension } from '../../src/api/machines/api-extension.js'
import type { MemberView } from '../../src/api/control-api.js'
import type { RoutesView } from '../../src/proxy/data-plane-view.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/runtime/clock.js'
import { buildSnapshot, type StatusInputs } from '../../src/status-page/snapshot.js'
import { createStatusPageExtension } from '../../src/status-page/status-extension.js'
import { TOKEN, startApi } from '../api/machines/fake-backend.js'
import { CHROMIUM, requireParts } from '../helpers/requirements.js'
import { serviceRow } from '../helpers/service-row.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// The page's own code in Debian's chromium against an API serving a made-up cluster and a made-up
// event stream of the shape /v1/events has: token handling, the event list and the sparkline.

const test = await requireParts(anyTest as TestFn<{ browser: Browser }>, ['chromium'])

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const member = (hostId: string, name: string, state: string): MemberView =>
  ({ hostId, name, version: '0.1.0', region: 'fra', addresses: [], state, self: hostId === A, incarnation: 1, rttMs: 0.8, changedAt: Date.now(), path: 'wireguard' })

// Chromium keeps both cores busy while it starts and renders, as TCG boots do: the file holds the
// VM lock, so the tests that measure an agent's event loop (router-starvation) never run beside it.
let releaseLock: (() => Promise<void>) | undefined

test.before(async t => {
  releaseLock = await acquireVmLock()
  t.context.browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })
})
test.afterAlways(async t => {
  await t.context.browser?.close()
  await releaseLock?.()
})

/** `GET /v1/events?follow=true` as the events API streams it: `id: <seq>`, `data: <event JSON>`. */
function fakeEvents (events: Array<Record<string, unknown>>): ApiExtension {
  return {
    name: 'events',
    handle (_req, res, ctx) {
      if (ctx.url.pathname !== '/v1/events') return false
      ctx.requireToken()
      if (ctx.url.searchParams.get('follow') !== 'true') return false
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      for (const e of events) res.write(`id: ${String(e.seq)}\ndata: ${JSON.stringify(e)}\n\n`)
      return true
    }
  }
}

test('the page takes the token from the fragment, asks again when it is refused, and shows events and request rates', async t => {
  let requests = 0
  const inputs = (): StatusInputs => ({
    members: [member(A, 'h1', 'alive'), member(B, 'h2', 'dead')],
    hosts: [],
    machines: [],
    services: [{ table: 'services', key: 'web', owner: A, version: 1, deleted: false, ownerDead: false, data: serviceRow('web', 443, ['tls', 'http']) }],
    routes: { apps: [{ app: 'web', hostnames: ['web.roost.internal'], counters: { '2xx': (requests += 25) } }] } as unknown as RoutesView
  })
  const status = createStatusPageExtension({ pollMs: 20, refreshMs: 100 }, { snapshot: async () => buildSnapshot(inputs(), Date.now()), clock: systemClock, logger: silentLogger() })
  const events = fakeEvents([
    { seq: 1, at: Date.now() - 2_000, host: A, kind: 'host.suspect', message: 'h2 is suspect' },
    { seq: 2, at: Date.now() - 1_000, host: A, kind: 'host.dead', message: 'h2 is dead', data: { hostId: B } }
  ])
  const { url } = await startApi(t, { extensions: [status, events] })
  const page = await t.context.browser.newPage()
  const requested: string[] = []
  page.on('request', r => { requested.push(r.url()) })

  await page.goto(`${url}/status#token=wrong`)
  await page.waitForSelector('text=The agent refused this token')
  t.is(new URL(page.url()).hash, '', 'the token is wiped from the address bar')
  await page.fill('input[type=password]', TOKEN)
  await page.click('button')

  await page.waitForSelector('tr[data-host="h2"][data-state="dead"]')
  t.is(await page.locator('tr[data-host="h1"]').getAttribute('data-state'), 'alive')
  await page.waitForSelector('tr[data-kind="host.dead"]')
  const rows = await page.locator('table.events tr').allInnerTexts()
  t.is(rows.length, 2)
  t.regex(rows[0] ?? '', /h1\s+host\.dead\s+h2 is dead/, 'newest first, the host by name')
  t.regex(rows[1] ?? '', /host\.suspect/)
  await page.waitForSelector('tr[data-app="web"] svg.spark polyline')
  t.regex(await page.locator('tr[data-app="web"]').innerText(), /443→8080 \[tls,http\]/)
  t.false(requested.some(u => u.includes(TOKEN) || u.includes('wrong')), 'the token is in no URL the page requests')
  await page.close()
})
