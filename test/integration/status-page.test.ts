import anyTest, { type TestFn } from 'ava'
import { mkdir, mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { MemberView } from '../../src/api/control-api.js'
import { connectControl } from '../../src/api/control-client.js'
import { localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { BIN, roost } from '../helpers/cli.js'
import { COUNTER_APP, killRecordedVms, machinesClient, tearDownCluster } from '../helpers/machines.js'
import { CHROMIUM, requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { serviceRow } from '../helpers/service-row.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// The status page in a real browser (Debian's chromium through playwright-core) against three
// real agents (process driver): it shows the hosts and their machines, the app's route and its
// request rate, and a host killed with -9 turns dead on the page within 2 s of host 1's replica
// saying so. A screenshot is left in test/results/ for people to look at.

interface Ctx { cluster: LocalCluster, dir: string, browser: Browser }
const test = await requireParts(anyTest as TestFn<Ctx>, ['chromium', 'busybox-static'])

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url))
const APP = 'counter'
const PUBLIC_PORT = 18_000 + Math.floor(Math.random() * 2_000)
/** The bound: the page shows what the replica says within this long. */
const PAGE_LAG_MS = 2_000

// Chromium keeps both cores busy while it starts and renders, as TCG boots do: the file holds the
// VM lock, so the tests that measure an agent's event loop (router-starvation) never run beside it.
let releaseLock: (() => Promise<void>) | undefined

test.before(async t => {
  releaseLock = await acquireVmLock()
  const dir = await mkdtemp(join(tmpdir(), 'roost-status-page-'))
  await buildImage({ appDir: COUNTER_APP, imagesDir: localImagesDir(dir), name: APP }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 3, dir, logLevel: 'debug', agentArgs: ['--driver', 'process'] })
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })
  t.context = { cluster, dir, browser }
  await cluster.waitForMembership()
})

test.afterAlways(async t => {
  await t.context.browser?.close()
  await tearDownCluster(t.context.cluster, t.context.dir, line => { t.log(line) })
  await releaseLock?.()
})

const host = (t: { context: Ctx }, name: string): LocalHost => t.context.cluster.hosts.find(h => h.name === name) as LocalHost

async function membersOf (h: LocalHost): Promise<MemberView[]> {
  const c = await connectControl(h.socketPath)
  try { return await c.call(async api => await api.members()) } finally { c.close() }
}

async function openPage (t: { context: Ctx, log: (s: string) => void }, h: LocalHost): Promise<Page> {
  const printed = await roost(['status-page', '--data-dir', h.dataDir])
  if (printed.code !== 0) throw new Error(printed.stderr)
  const url = printed.stdout.trim()
  const page = await t.context.browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.on('console', m => { if (m.type() === 'error') t.log(`page console: ${m.text()}`) })
  page.on('pageerror', err => { t.log(`page error: ${err.message}`) })
  await page.goto(url)
  return page
}

test.serial('the status page shows hosts, machines and an app\'s traffic, and a killed host dead within 2 s of the replica', async t => {
  const [h1, h2, h3] = ['h1', 'h2', 'h3'].map(n => host(t, n)) as [LocalHost, LocalHost, LocalHost]
  const api = await machinesClient(h1.dataDir)
  const config = { image: APP, driver: 'process' as const, restart: { policy: 'no' as const } }
  for (const on of [h1, h2, h3]) await api.create(APP, { config, host: on.name })
  await retry(async () => (await api.list(APP)).filter(m => m.state === 'started').length === 3, { timeoutMs: 30_000, what: 'three machines started' })
  const wrote = await roost(['send', 'h1/agent/membership', JSON.stringify({ type: 'membership.write', table: 'services', key: APP, data: serviceRow(APP, PUBLIC_PORT, ['http']) }), '--data-dir', h1.dataDir])
  t.is(wrote.code, 0, wrote.stderr)
  const { domain } = JSON.parse(await readFile(join(h1.dataDir, 'agent.json'), 'utf8')) as { domain: string }
  const request = async (): Promise<number> => {
    const res = await fetch(`http://${h1.address}:${PUBLIC_PORT}/`, { headers: { host: `${APP}.${domain}` }, signal: AbortSignal.timeout(2_000) }).catch(() => null)
    await res?.arrayBuffer()
    return res?.status ?? 0
  }
  await retry(async () => await request() === 200, { timeoutMs: 30_000, what: 'the router answering for the app' })

  const page = await openPage(t, h1)
  t.is(new URL(page.url()).hash, '', 'the token is wiped from the address bar')
  for (const name of ['h1', 'h2', 'h3']) await page.waitForSelector(`tr[data-host="${name}"][data-state="alive"]`, { timeout: 15_000 })
  await page.waitForSelector(`tr[data-host="h3"] li.machine[data-state="started"]`, { timeout: 15_000 })
  t.is(await page.locator('li.machine').count(), 3)
  t.regex(await page.locator(`tr[data-app="${APP}"]`).innerText(), new RegExp(`${PUBLIC_PORT}→8080`))
  t.regex(await page.locator('[data-events-state]').innerText().catch(() => 'live'), /unavailable|live/, 'events: shown, or said to be unavailable')

  // Traffic for a few snapshots, so the sparkline has points and the count moves.
  await retry(async () => {
    await Promise.all(Array.from({ length: 10 }, request))
    const text = await page.locator(`tr[data-app="${APP}"] td.num`).nth(1).innerText()
    return Number(text.split(' ')[0]) >= 40
  }, { timeoutMs: 30_000, intervalMs: 100, what: 'the page counting the app\'s requests' })
  await retry(async () => {
    await Promise.all(Array.from({ length: 10 }, request))
    return await page.locator(`tr[data-app="${APP}"] svg.spark polyline`).count() === 1
  }, { timeoutMs: 30_000, intervalMs: 100, what: 'a sparkline of the app\'s request rate' })

  const h3Id = (JSON.parse(await readFile(join(h3.dataDir, 'agent.json'), 'utf8')) as { hostId: string }).hostId
  const shownDead = page.waitForSelector('tr[data-host="h3"][data-state="dead"]', { timeout: 60_000 }).then(() => Date.now())
  h3.process.kill('SIGKILL')
  killRecordedVms(h3.dataDir)
  const dead = await retry(async () => (await membersOf(h1)).find(m => m.hostId === h3Id && m.state === 'dead'), { timeoutMs: 60_000, intervalMs: 50, what: 'h3 dead in h1\'s replica' })
  const shownAt = await shownDead
  t.log(`h3 dead on h1 at ${new Date(dead.changedAt).toISOString()}; on the page ${shownAt - dead.changedAt} ms later`)
  t.true(shownAt - dead.changedAt <= PAGE_LAG_MS, `the page showed h3 dead ${shownAt - dead.changedAt} ms after the replica (bound ${PAGE_LAG_MS} ms)`)
  t.is(await page.locator('tr[data-host="h2"]').getAttribute('data-state'), 'alive')

  await mkdir(RESULTS, { recursive: true })
  await page.screenshot({ path: join(RESULTS, 'status-page.png'), fullPage: true })
  await page.close()
})
