import { X509Certificate, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net'
import { join } from 'node:path'
import { TLSSocket, createServer, type Server } from 'node:tls'
import test, { type ExecutionContext } from 'ava'
import { pino } from 'pino'
import type { CertRowData } from '../../../src/gossip/rows.js'
import { createCertStore, selectAlpn, type CertStore } from '../../../src/proxy/tls/cert-store.js'
import { createCa, issueLeaf, type CaMaterial } from '../../../src/proxy/tls/dev-ca.js'
import { CertError } from '../../../src/proxy/tls/errors.js'
import { tempDir } from '../../helpers/cli.js'
import { retry } from '../../helpers/retry.js'
import { requireParts } from '../../helpers/requirements.js'
import { certRow, handshake, sClient } from './tls-helpers.js'

const DAY = 86_400_000
const DOMAIN = 'roost.test'
const withOpenssl = await requireParts(test, ['openssl'])

interface Fixture {
  /** The CA the store issues from on demand. */
  ca: CaMaterial
  /** Another CA, standing in for a public one that issued users' certificates. */
  userCa: CaMaterial
  caFile: string
  certKey: Buffer
  rows: CertRowData[]
  store: CertStore
  logs: Array<Record<string, unknown>>
  port: number
  server: Server
  clientErrors: Error[]
}

async function listen (t: ExecutionContext, server: Server | NetServer): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise(resolve => server.close(resolve)) })
  return (server.address() as AddressInfo).port
}

async function fixture (t: ExecutionContext, opts: { now?: () => number } = {}): Promise<Fixture> {
  const dir = await tempDir(t)
  const ca = await createCa({ name: 'store CA', dir: join(dir, 'ca') })
  const userCa = await createCa({ name: 'user CA', dir: join(dir, 'user-ca') })
  const caFile = join(dir, 'trust.pem')
  await writeFile(caFile, ca.certPem + userCa.certPem)
  const certKey = randomBytes(32)
  const otherKey = randomBytes(32)
  const exact = await issueLeaf(userCa, { names: ['exact.example.com'] })
  const wild = await issueLeaf(userCa, { names: ['*.wild.example.com'] })
  const expired = await issueLeaf(userCa, { names: ['old.example.com'], days: 1, now: Date.now() - 10 * DAY })
  const stranger = await issueLeaf(userCa, { names: ['mismatch.example.com'] })
  const mismatch = await issueLeaf(userCa, { names: ['mismatch.example.com'] })
  const rows: CertRowData[] = [
    certRow('exact.example.com', exact, certKey, { app: 'web' }),
    certRow('*.wild.example.com', wild, certKey),
    certRow('sealed-elsewhere.example.com', await issueLeaf(userCa, { names: ['sealed-elsewhere.example.com'] }), otherKey),
    certRow('old.example.com', expired, certKey),
    { ...certRow('mismatch.example.com', mismatch, certKey), certPem: stranger.certPem },
    { ...certRow('garbage.example.com', exact, certKey), certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
    certRow('wrong-name.example.com', exact, certKey)
  ]
  const logs: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => { logs.push(JSON.parse(s) as Record<string, unknown>) } })
  const store = createCertStore({ ca, certKey, domain: DOMAIN }, { logger, ...(opts.now === undefined ? {} : { now: opts.now }) })
  store.setRows(rows)
  store.setRoutedNames(name => name === `app1.${DOMAIN}` || name === `app2.${DOMAIN}` || name === 'custom.example.org')
  // The server keeps connections until the client closes them: TLS 1.3 tickets follow the handshake.
  const server = createServer(store.serverOptions(), socket => { socket.on('error', () => {}).resume() })
  const clientErrors: Error[] = []
  server.on('tlsClientError', err => { clientErrors.push(err) })
  const port = await listen(t, server)
  return { ca, userCa, caFile, certKey, rows, store, logs, port, server, clientErrors }
}

const trusting = (f: Fixture): { ca: string[] } => ({ ca: [f.ca.certPem, f.userCa.certPem] })

test('exact row, wildcard row and on-demand leaf are chosen by SNI; the client verifies each', async t => {
  const f = await fixture(t)
  const exact = await handshake(f.port, { servername: 'exact.example.com', ...trusting(f) })
  t.true(exact.authorized)
  t.is(exact.cert?.subject, 'CN=exact.example.com')
  t.is(exact.cert?.issuer, 'CN=user CA')
  t.is(exact.alpn, false, 'no ALPN offered, none chosen')

  const upper = await handshake(f.port, { servername: 'EXACT.example.com', ...trusting(f), checkServerIdentity: () => undefined })
  t.is(upper.cert?.fingerprint256, exact.cert?.fingerprint256, 'SNI is matched case-insensitively')

  const wild = await handshake(f.port, { servername: 'a.wild.example.com', ...trusting(f) })
  t.true(wild.authorized)
  t.is(wild.cert?.subjectAltName, 'DNS:*.wild.example.com')
  await t.throwsAsync(handshake(f.port, { servername: 'a.b.wild.example.com', ...trusting(f) }), undefined, 'a wildcard covers one label')

  const onDemand = await handshake(f.port, { servername: `app1.${DOMAIN}`, ...trusting(f) })
  t.true(onDemand.authorized)
  t.is(onDemand.cert?.issuer, 'CN=store CA')
  t.is(onDemand.cert?.subjectAltName, `DNS:app1.${DOMAIN}`)
  t.true(onDemand.cert?.checkIssued(new X509Certificate(f.ca.certPem)))
  const again = await handshake(f.port, { servername: `app1.${DOMAIN}`, ...trusting(f) })
  t.is(again.cert?.fingerprint256, onDemand.cert?.fingerprint256, 'cached: issued once per name')
  const custom = await handshake(f.port, { servername: 'custom.example.org', ...trusting(f) })
  t.is(custom.cert?.subjectAltName, 'DNS:custom.example.org')
  t.is(f.store.stats().issued, 2)
  t.log(`handshakes: row ${exact.ms.toFixed(1)} ms, first on-demand (issuance included) ${onDemand.ms.toFixed(1)} ms, cached on-demand ${again.ms.toFixed(1)} ms`)
})

test('unknown names, and names with only a bad row, fail the handshake and are logged at debug; the rest keeps working', async t => {
  const f = await fixture(t)
  for (const name of ['unknown.example.com', `app3.${DOMAIN}`, 'sealed-elsewhere.example.com', 'old.example.com', 'mismatch.example.com', 'garbage.example.com', 'wrong-name.example.com']) {
    await t.throwsAsync(handshake(f.port, { servername: name, ...trusting(f) }), undefined, name)
  }
  await retry(() => f.clientErrors.length >= 7, { what: 'server-side handshake errors' })
  t.true(f.clientErrors.every(e => (e as CertError).code === 'ERR_CERT'))
  const refused = f.logs.filter(l => l.msg === 'TLS handshake refused: no certificate')
  t.true(refused.some(l => l.servername === 'unknown.example.com' && l.level === 20))
  t.true((await handshake(f.port, { servername: 'exact.example.com', ...trusting(f) })).authorized)

  const skipped = f.logs.filter(l => l.msg === 'certificate row skipped').map(l => [l.hostname, l.reason])
  t.deepEqual(skipped.map(s => s[0]).sort(), ['garbage.example.com', 'mismatch.example.com', 'old.example.com', 'sealed-elsewhere.example.com', 'wrong-name.example.com'])
  t.regex(String(skipped.find(s => s[0] === 'sealed-elsewhere.example.com')?.[1]), /authentication failed/)
  t.regex(String(skipped.find(s => s[0] === 'old.example.com')?.[1]), /expired/)
  t.regex(String(skipped.find(s => s[0] === 'mismatch.example.com')?.[1]), /does not match/)
  t.regex(String(skipped.find(s => s[0] === 'wrong-name.example.com')?.[1]), /does not cover/)
  t.deepEqual(f.store.stats(), { rows: 2, skipped: 5, onDemand: 0, issued: 0 })

  f.store.setRows(f.rows)
  t.is(f.logs.filter(l => l.msg === 'certificate row skipped').length, 5, 'the same bad rows are not logged again')
  f.store.setRows([...f.rows, { ...f.rows[0] as CertRowData, hostname: 'Bad Name' }, null as unknown as CertRowData])
  t.is(f.store.stats().rows, 2, 'malformed rows are skipped, never thrown')
})

test('concurrent handshakes for a new name issue its certificate once', async t => {
  const f = await fixture(t)
  const results = await Promise.all(Array.from({ length: 12 }, async () => await handshake(f.port, { servername: `app2.${DOMAIN}`, ...trusting(f) })))
  t.true(results.every(r => r.cert !== undefined))
  t.is(new Set(results.map(r => r.cert?.fingerprint256)).size, 1)
  t.true(results.every(r => r.authorized))
  t.is(f.store.stats().issued, 1)
  t.is(f.store.stats().onDemand, 1)
})

test('session tickets resume across SNI contexts: a second connection with the ticket skips the full handshake', async t => {
  const f = await fixture(t)
  for (const servername of ['exact.example.com', `app1.${DOMAIN}`]) {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const first = await handshake(f.port, { servername, maxVersion, ...trusting(f), waitSession: true })
      t.false(first.reused)
      const second = await handshake(f.port, { servername, maxVersion, session: first.session, ...trusting(f) })
      t.true(second.reused, `${servername} ${maxVersion}`)
    }
  }
})

test('ALPN: http/1.1 is chosen when offered; a client offering only other protocols is refused', async t => {
  const f = await fixture(t)
  t.is((await handshake(f.port, { servername: 'exact.example.com', ALPNProtocols: ['h2', 'http/1.1'], ...trusting(f) })).alpn, 'http/1.1')
  await t.throwsAsync(handshake(f.port, { servername: 'exact.example.com', ALPNProtocols: ['h2'], ...trusting(f) }))
  t.is(selectAlpn(['h2', 'http/1.1'], ['http/1.1']), 'http/1.1')
  t.is(selectAlpn(['x', 'b', 'a'], ['a', 'b']), 'a', 'server preference')
  t.is(selectAlpn(['h2'], ['http/1.1']), undefined)
})

test('contexts are made once per certificate: unchanged rows keep theirs, a changed row gets a new one, a removed row stops serving', async t => {
  const f = await fixture(t)
  const ctx = await f.store.contextFor('exact.example.com')
  t.is(await f.store.contextFor('exact.example.com'), ctx)
  f.store.setRows([...f.rows])
  t.is(await f.store.contextFor('exact.example.com'), ctx)
  const wildCtx = await f.store.contextFor('x.wild.example.com')
  t.is(await f.store.contextFor('y.wild.example.com'), wildCtx)

  const renewed = await issueLeaf(f.userCa, { names: ['exact.example.com'] })
  f.store.setRows([certRow('exact.example.com', renewed, f.certKey), ...f.rows.slice(1)])
  t.not(await f.store.contextFor('exact.example.com'), ctx)
  t.is((await handshake(f.port, { servername: 'exact.example.com', ...trusting(f) })).cert?.fingerprint256, new X509Certificate(renewed.certPem).fingerprint256)

  f.store.setRows(f.rows.slice(1))
  await t.throwsAsync(f.store.contextFor('exact.example.com'), { instanceOf: CertError })
  const a = await f.store.contextFor(`app1.${DOMAIN}`)
  t.is(await f.store.contextFor(`app1.${DOMAIN}`), a)
  f.store.setRoutedNames(name => name === `app2.${DOMAIN}`)
  await t.throwsAsync(f.store.contextFor(`app1.${DOMAIN}`), { instanceOf: CertError }, 'a name no longer routed loses its on-demand certificate')
  t.is(f.store.stats().onDemand, 0)
})

test('on-demand certificates are renewed near expiry (served meanwhile) and reissued once expired; rows expire too', async t => {
  let now = Date.now()
  const f = await fixture(t, { now: () => now })
  const name = `app1.${DOMAIN}`
  const first = await f.store.contextFor(name)
  t.is(f.store.stats().issued, 1)
  now += 50 * DAY
  t.is(await f.store.contextFor(name), first, 'still valid for 40 days: not renewed')
  now += 20 * DAY
  t.is(await f.store.contextFor(name), first, 'served while the renewal runs')
  await retry(() => f.store.stats().issued === 2, { what: 'a background renewal' })
  const renewed = await f.store.contextFor(name)
  t.not(renewed, first)
  now += 100 * DAY
  const reissued = await f.store.contextFor(name)
  t.not(reissued, renewed)
  t.is(f.store.stats().issued, 3)
  await t.throwsAsync(f.store.contextFor('exact.example.com'), { instanceOf: CertError }, 'the exact row expired meanwhile')
})

test('a store without a CA serves rows only', async t => {
  const f = await fixture(t)
  const store = createCertStore({ certKey: f.certKey, domain: DOMAIN }, { logger: pino({ level: 'silent' }) })
  store.setRows(f.rows)
  store.setRoutedNames(() => true)
  await t.notThrowsAsync(store.contextFor('exact.example.com'))
  await t.throwsAsync(store.contextFor(`app1.${DOMAIN}`), { instanceOf: CertError })
})

test('a TLSSocket server (how the data plane wraps accepted sockets) uses defaultContext for clients without SNI and the SNI callback otherwise', async t => {
  const f = await fixture(t)
  const fallback = await f.store.defaultContext(`app1.${DOMAIN}`)
  const bare = await f.store.defaultContext()
  let useFallback = true
  const server = createNetServer(socket => {
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: useFallback ? fallback : bare,
      SNICallback: f.store.sniCallback,
      ALPNCallback: f.store.alpnCallback
    })
    tls.on('error', () => {}).resume()
  })
  const port = await listen(t, server)
  const noSni = await handshake(port, { ...trusting(f), checkServerIdentity: () => undefined })
  t.is(noSni.cert?.subjectAltName, `DNS:app1.${DOMAIN}`, 'no SNI (an IP address as host): the fallback name')
  const sni = await handshake(port, { servername: 'exact.example.com', ALPNProtocols: ['http/1.1'], ...trusting(f) })
  t.is(sni.cert?.subject, 'CN=exact.example.com')
  t.is(sni.alpn, 'http/1.1')
  const first = await handshake(port, { servername: 'exact.example.com', ...trusting(f), maxVersion: 'TLSv1.3', waitSession: true })
  t.true((await handshake(port, { servername: 'exact.example.com', session: first.session, ...trusting(f), maxVersion: 'TLSv1.3' })).reused)
  useFallback = false
  await t.throwsAsync(handshake(port, { ...trusting(f), checkServerIdentity: () => undefined }), undefined, 'no SNI and no fallback: no certificate')
  await t.throwsAsync(f.store.defaultContext('nope.example.com'), { instanceOf: CertError })
})

withOpenssl('openssl s_client sees the right subject and SAN per -servername, and verifies them against the CAs', async t => {
  const f = await fixture(t)
  for (const [servername, subject, san] of [
    ['exact.example.com', 'CN = exact.example.com', 'DNS:exact.example.com'],
    ['x.wild.example.com', 'CN = \\*.wild.example.com', 'DNS:*.wild.example.com'],
    [`app2.${DOMAIN}`, `CN = app2.${DOMAIN}`, `DNS:app2.${DOMAIN}`]
  ] as const) {
    const out = await sClient(f.port, servername, f.caFile)
    t.regex(out, new RegExp(`subject=${subject}`), servername)
    t.regex(out, /Verify return code: 0 \(ok\)/, servername)
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0]
    t.is(new X509Certificate(pem ?? '').subjectAltName, san, servername)
  }
  const out = await sClient(f.port, 'unknown.example.com', f.caFile)
  t.false(out.includes('BEGIN CERTIFICATE'), 'no certificate for an unknown name')
  t.regex(out, /alert|errno|error/i)
})

test('handshake cost: full vs resumed, sequential, logged for the report', async t => {
  const f = await fixture(t)
  const N = 100
  await handshake(f.port, { servername: 'exact.example.com', ...trusting(f) })
  let started = performance.now()
  for (let i = 0; i < N; i++) await handshake(f.port, { servername: 'exact.example.com', ...trusting(f) })
  const full = (performance.now() - started) / N
  const seed = await handshake(f.port, { servername: 'exact.example.com', ...trusting(f), waitSession: true })
  started = performance.now()
  let reused = 0
  for (let i = 0; i < N; i++) if ((await handshake(f.port, { servername: 'exact.example.com', session: seed.session, ...trusting(f) })).reused) reused++
  const resumed = (performance.now() - started) / N
  t.is(reused, N)
  t.log(`TLS 1.3 ECDSA P-256 over loopback, client and server in one process: full ${full.toFixed(2)} ms, resumed ${resumed.toFixed(2)} ms per handshake (N=${N})`)
})
