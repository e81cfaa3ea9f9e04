import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
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

interface Served { verify: string, issuer: string, subject: string, fingerprint: string }

async function sClient (address: string, port: number, name: string, caFile: string): Promise<Served> {
  const script = `out=$(openssl s_client -connect ${address}:${port} -servername ${name} -verify_hostname ${name} -CAfile ${caFile} </dev/null 2>&1); ` +
    'echo "$out" | grep "Verify return code"; echo "$out" | openssl x509 -noout -subject -issuer -fingerprint -sha256'
  const out = await new Promise<string>((resolve) => { execFile('sh', ['-c', script], { timeout: 15_000 }, (_err, stdout) => { resolve(stdout) }) })
  const line = (re: RegExp): string => re.exec(out)?.[1]?.trim() ?? ''
  return { verify: line(/Verify return code: (.*)/), subject: line(/^subject=(.*)$/m), issuer: line(/^issuer=(.*)$/m), fingerprint: line(/Fingerprint=(.*)$/m) }
}

acmeTest.serial('certs add --acme: Pebble validates http-01 through another host\'s router, every router serves the certificate, and it is renewed before expiry', async t => {
  t.timeout(240_000)
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
  const intermediate = await pebble.management('/intermediates/0')
  const intermediateSubject = await new Promise<string>((resolve) => {
    const p = execFile('openssl', ['x509', '-noout', '-subject'], (_err, stdout) => { resolve(stdout.replace(/^subject=/, '').trim()) })
    p.stdin?.end(intermediate)
  })
  t.regex(intermediateSubject, /Pebble Intermediate/)
  for (const host of [h2, h1]) {
    const served = await retry(async () => { const s = await sClient(host.address, tlsPort, NAME, rootFile); return s.verify === '0 (ok)' && s }, { timeoutMs: 20_000, what: `${host.name} serving the ACME certificate` })
    t.is(served.issuer, intermediateSubject, `${host.name}: issued by Pebble's intermediate, chain verified to its root`)
    t.is(served.fingerprint.replace(/:/g, '').toLowerCase(), (reply.cert.fingerprint ?? '-').replace(/:/g, '').toLowerCase())
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
  const after = await retry(async () => { const s = await sClient(h2.address, tlsPort, NAME, rootFile); return s.verify === '0 (ok)' && s.fingerprint.replace(/:/g, '').toLowerCase() === renewed.fingerprint?.replace(/:/g, '').toLowerCase() && s }, { timeoutMs: 20_000, what: 'h2 serving the renewed certificate' })
  t.is(after.issuer, intermediateSubject)
})
