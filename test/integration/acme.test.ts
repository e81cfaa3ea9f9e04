import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { callAgent } from '../../src/cli/agent-call.js'
import type { CertView } from '../../src/proxy/tls/cert-messages.js'
import { localCluster, roost, tempDir } from '../helpers/cli.js'
import { startDnsStub } from '../helpers/dns-stub.js'
import { startPebble } from '../helpers/pebble.js'
import { freePort } from '../proxy/dp-harness.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { serviceRow } from '../helpers/service-row.js'

const acmeTest = await requireParts(test, ['pebble', 'openssl'])
const NAME = 'shop.acme.test'
/** Short enough that the renewal (a third of the life left) comes within the test. */
const VALIDITY_S = 60

interface Served { verify: string, issuer: string, fingerprint: string }

/** `openssl s_client` to the router: its verdict on the chain (to `caFile`, for `name`) and the leaf it got. */
async function sClient (address: string, port: number, name: string, caFile: string): Promise<Served> {
  const out = await new Promise<string>((resolve) => {
    const p = execFile('openssl', ['s_client', '-connect', `${address}:${port}`, '-servername', name, '-verify_hostname', name, '-CAfile', caFile], { timeout: 15_000 }, (_err, stdout, stderr) => { resolve(stdout + stderr) })
    p.stdin?.end()
  })
  const verify = /Verify return code: (.*)/.exec(out)?.[1]?.trim() ?? ''
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out)?.[0]
  // s_client prints `Verify return code: 0 (ok)` after a failed handshake too: no certificate, no verdict.
  if (pem === undefined) return { verify: `no certificate: ${out.slice(-300)}`, issuer: '', fingerprint: '' }
  const leaf = new X509Certificate(pem)
  return { verify, issuer: leaf.issuer, fingerprint: leaf.fingerprint256 }
}

acmeTest.serial('certs add --acme: Pebble validates http-01 through another host\'s router, every router serves the certificate; it is renewed before expiry by the issuing host only, and a failed renewal is logged and retried with a growing backoff', async t => {
  t.timeout(360_000)
  const dns = await startDnsStub()
  t.teardown(async () => { await dns.close() })
  const httpPort = await freePort()
  const tlsPort = await freePort()
  const pebble = await startPebble(t, { httpPort, dnsServer: `127.0.0.1:${dns.port}`, validitySeconds: VALIDITY_S })
  const cluster = await localCluster(t, 2, {
    logLevel: 'info',
    env: { ROOST_ACME_DIRECTORY: pebble.directory, ROOST_ACME_CA_FILE: pebble.caFile, ROOST_ACME_HTTP_PORT: String(httpPort), ROOST_ACME_RENEW_CHECK: '1', ROOST_ACME_EMAIL: 'ops@acme.test' }
  })
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts
  if (h1 === undefined || h2 === undefined) throw new Error('two hosts expected')
  // The name resolves to h2 while h1 runs the order: h2's router must answer the challenge.
  dns.set(NAME, h2.address)
  await callAgent(h1.dataDir, async api => await api.send('local/agent/router', { type: 'router.deploy', spec: { ...serviceRow('shop', tlsPort), hostnames: [NAME] } }, { timeoutMs: 10_000 }))

  const added = await roost(['certs', 'add', 'shop', NAME, '--acme', '--json', '--data-dir', h1.dataDir], { timeoutMs: 200_000 })
  t.is(added.code, 0, `${added.stdout}${added.stderr}\n--- pebble:\n${pebble.log()}`)
  const reply = JSON.parse(added.stdout) as { cert: CertView }
  t.like(reply.cert, { hostname: NAME, app: 'shop', source: 'acme', names: [NAME] })
  t.true(dns.queries.some(q => q.startsWith(`${NAME}/`)), 'Pebble resolved the name through the stub')

  const dir = await tempDir(t)
  const rootFile = join(dir, 'pebble-root.pem')
  await writeFile(rootFile, await pebble.management('/roots/0'))
  const intermediateSubject = new X509Certificate(await pebble.management('/intermediates/0')).subject
  t.regex(intermediateSubject, /Pebble Intermediate/)
  for (const host of [h2, h1]) {
    const served = await retry(async () => { const s = await sClient(host.address, tlsPort, NAME, rootFile); return s.verify === '0 (ok)' && s }, { timeoutMs: 20_000, what: `${host.name} serving the ACME certificate` })
    t.is(served.issuer, intermediateSubject, `${host.name}: issued by Pebble's intermediate, chain verified to its root`)
    t.is(served.fingerprint, reply.cert.fingerprint ?? '-')
  }

  const listed = await roost(['certs', 'list', '--data-dir', h2.dataDir])
  t.regex(listed.stdout, new RegExp(`${NAME.replace(/\./g, '\\.')}\\s+shop\\s+acme\\s+\\d{4}-\\d\\d-\\d\\d`))

  // Renewal: with a third of the life left, h1 (the issuing host, alive) orders a new certificate.
  const renewed = await retry(async () => {
    const r = await roost(['certs', 'list', '--json', '--data-dir', h2.dataDir])
    const c = (JSON.parse(r.stdout) as CertView[]).find(x => x.hostname === NAME)
    return c !== undefined && c.fingerprint !== reply.cert.fingerprint && c
  }, { timeoutMs: VALIDITY_S * 1000 + 30_000, intervalMs: 1_000, what: 'the certificate renewed' })
  t.is(renewed.source, 'acme')
  t.true(renewed.notAfter > reply.cert.notAfter)
  const after = await retry(async () => { const s = await sClient(h2.address, tlsPort, NAME, rootFile); return s.verify === '0 (ok)' && s.fingerprint === renewed.fingerprint && s }, { timeoutMs: 20_000, what: 'h2 serving the renewed certificate' })
  t.is(after.issuer, intermediateSubject)

  // With the directory gone, the next renewal fails: a log line per attempt, retried with a growing backoff.
  const pebblePid = pebble.process.pid as number
  const exited = new Promise(resolve => pebble.process.once('exit', resolve))
  process.kill(pebblePid, 'SIGKILL')
  await exited
  const failures = await retry(async () => {
    const lines = logLines(await readFile(h1.logFile, 'utf8')).filter(l => l.msg === 'ACME: certificate renewal failed')
    return lines.length >= 2 && lines
  }, { timeoutMs: VALIDITY_S * 1000 + 30_000, intervalMs: 1_000, what: 'two failed renewals logged by h1' }).catch(async (err: Error) => {
    throw new Error(`${err.message}; h1's ACME log:\n${logLines(await readFile(h1.logFile, 'utf8')).filter(l => String(l.msg).startsWith('ACME')).map(l => JSON.stringify(l)).join('\n')}`)
  })
  t.like(failures[0], { hostname: NAME, failures: 1 })
  t.like(failures[1], { hostname: NAME, failures: 2 })
  t.true(Number(failures[1]?.retryInMs) > Number(failures[0]?.retryInMs), 'the backoff grows')
  const h2Renewals = logLines(await readFile(h2.logFile, 'utf8')).filter(l => typeof l.msg === 'string' && (l.msg as string).startsWith('ACME: renewing'))
  t.deepEqual(h2Renewals, [], 'only the issuing host renews while it is alive')
  const events = await roost(['events', '--json', '--data-dir', h1.dataDir])
  t.is(events.code, 0, events.stderr)
  const certEvents = events.stdout.trim().split('\n').map(l => JSON.parse(l) as { kind: string, data?: Record<string, unknown> }).filter(e => e.kind === 'certificate')
  t.true(certEvents.some(e => e.data?.hostname === NAME && e.data.renewed === false), 'the issue is in h1\'s event stream')
  t.true(certEvents.some(e => e.data?.hostname === NAME && e.data.renewed === true), 'so is the renewal')
  t.true(certEvents.some(e => e.data?.hostname === NAME && e.data.failed === true), 'and the failed renewal')
})

function logLines (text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap(line => { try { return [JSON.parse(line) as Record<string, unknown>] } catch { return [] } })
}
