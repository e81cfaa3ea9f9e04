import { execFile } from 'node:child_process'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { CA_CERT_FILE, CA_KEY_FILE, createCa, ensureDevCa, issueLeaf, loadCa, MAX_LEAF_DAYS } from '../../../src/proxy/tls/dev-ca.js'
import { CertError } from '../../../src/proxy/tls/errors.js'
import { loadX509 } from '../../../src/proxy/tls/x509.js'
import { tempDir } from '../../helpers/cli.js'
import { requireParts } from '../../helpers/requirements.js'
import { validityMs } from './tls-helpers.js'

const x509 = await loadX509()

const DAY = 86_400_000
const withOpenssl = await requireParts(test, ['openssl'])

test('createCa writes an ECDSA P-256 CA for ten years: cert 0644, PKCS8 key 0600, CA extensions', async t => {
  const dir = join(await tempDir(t), 'ca')
  const ca = await createCa({ name: 'test CA', dir })
  t.is((await stat(join(dir, CA_KEY_FILE))).mode & 0o777, 0o600)
  t.is((await stat(join(dir, CA_CERT_FILE))).mode & 0o777, 0o644)
  t.is(await readFile(join(dir, CA_CERT_FILE), 'utf8'), ca.certPem)
  t.is(await readFile(join(dir, CA_KEY_FILE), 'utf8'), ca.keyPem)
  t.regex(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/)

  const cert = new X509Certificate(ca.certPem)
  t.true(cert.ca)
  t.is(cert.subject, 'CN=test CA')
  t.is(cert.issuer, 'CN=test CA')
  t.true(cert.verify(cert.publicKey), 'self-signed')
  t.is(cert.publicKey.asymmetricKeyType, 'ec')
  t.is(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  t.true(cert.checkPrivateKey(createPrivateKey(ca.keyPem)))
  const days = validityMs(cert) / DAY
  t.true(days >= 3650 && days <= 3653, `${days} days`)

  const parsed = new x509.X509Certificate(ca.certPem)
  const bc = parsed.getExtension(x509.BasicConstraintsExtension)
  t.true(bc?.ca)
  t.true(bc?.critical)
  const ku = parsed.getExtension(x509.KeyUsagesExtension)
  t.is(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)
  t.true(ku?.critical)
  t.regex(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '', /^[0-9a-f]{40}$/)
})

test('createCa refuses to overwrite a CA; loadCa reads it back, and is null where there is none', async t => {
  const dir = await tempDir(t)
  t.is(await loadCa(join(dir, 'missing')), null)
  const ca = await createCa({ name: 'one', dir })
  await t.throwsAsync(createCa({ name: 'two', dir }), { instanceOf: CertError })
  t.deepEqual(await loadCa(dir), ca)
})

test('loadCa: a CA whose key is missing, foreign or garbage, or a certificate that is not a CA, is a CertError', async t => {
  const a = await tempDir(t)
  const b = await tempDir(t)
  const caA = await createCa({ name: 'a', dir: a })
  const caB = await createCa({ name: 'b', dir: b })
  await writeFile(join(a, CA_KEY_FILE), caB.keyPem)
  await t.throwsAsync(loadCa(a), { instanceOf: CertError, message: /does not match/ })
  await writeFile(join(a, CA_KEY_FILE), 'garbage')
  await t.throwsAsync(loadCa(a), { instanceOf: CertError })
  await writeFile(join(a, CA_CERT_FILE), 'garbage')
  await t.throwsAsync(loadCa(a), { instanceOf: CertError })
  const leaf = await issueLeaf(caB, { names: ['x.test'] })
  await writeFile(join(a, CA_CERT_FILE), leaf.certPem)
  await writeFile(join(a, CA_KEY_FILE), leaf.keyPem)
  await t.throwsAsync(loadCa(a), { instanceOf: CertError, message: /not a CA/ })
  const c = await tempDir(t)
  await writeFile(join(c, CA_CERT_FILE), caA.certPem)
  await t.throwsAsync(loadCa(c), { instanceOf: CertError, message: /key cannot be read/ })
})

test('ensureDevCa creates the CA once and reuses it', async t => {
  const dir = join(await tempDir(t), 'dev-ca')
  const first = await ensureDevCa(dir)
  t.is(new X509Certificate(first.certPem).subject, 'CN=roost dev CA')
  const again = await ensureDevCa(dir)
  t.deepEqual(again, first)
})

test('issueLeaf: an ECDSA P-256 server certificate that verifies against the CA, with the names, EKU, AKI and validity asked for', async t => {
  const ca = await createCa({ name: 'issuer', dir: await tempDir(t) })
  const started = performance.now()
  const leaf = await issueLeaf(ca, { names: ['Demo.Example.com', '*.apps.example.com', '127.0.0.1', '::1'] })
  t.log(`first issuance (imports the CA key) ${(performance.now() - started).toFixed(1)} ms`)
  const caCert = new X509Certificate(ca.certPem)
  const cert = new X509Certificate(leaf.certPem)
  t.true(cert.checkIssued(caCert))
  t.true(cert.verify(caCert.publicKey))
  t.false(cert.ca)
  t.is(cert.subject, 'CN=demo.example.com')
  t.is(cert.issuer, 'CN=issuer')
  t.is(cert.subjectAltName, 'DNS:demo.example.com, DNS:*.apps.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  t.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'EKU serverAuth')
  t.is(cert.checkHost('demo.example.com'), 'demo.example.com')
  t.is(cert.checkHost('x.apps.example.com'), '*.apps.example.com')
  t.is(cert.checkIP('127.0.0.1'), '127.0.0.1')
  t.is(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  const key = createPrivateKey(leaf.keyPem)
  t.true(cert.checkPrivateKey(key))
  t.regex(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----/, 'PKCS8')
  t.is(leaf.notAfter, Date.parse(cert.validTo))
  t.is(Math.round(validityMs(cert) / DAY), 90, 'default 90 days')
  t.true(Date.parse(cert.validFrom) <= Date.now() && leaf.notAfter > Date.now())

  const parsed = new x509.X509Certificate(leaf.certPem)
  const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId
  t.is(parsed.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, caSki)
  t.is(parsed.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature)
  t.false(parsed.getExtension(x509.BasicConstraintsExtension)?.ca)
  t.regex(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '', /^[0-9a-f]{40}$/)
})

test('issueLeaf: random 128-bit serials, validity up to 397 days, bad input refused', async t => {
  const ca = await createCa({ name: 'issuer', dir: await tempDir(t) })
  const serials = new Set<string>()
  const N = 50
  const started = performance.now()
  for (let i = 0; i < N; i++) serials.add(new X509Certificate((await issueLeaf(ca, { names: [`n${i}.test`] })).certPem).serialNumber)
  t.log(`issuance: ${((performance.now() - started) / N).toFixed(2)} ms per leaf over ${N} (sequential)`)
  t.is(serials.size, N)
  for (const s of serials) t.true(s.replace(/^00/, '').length >= 28 && s.length <= 34, s)

  const long = new X509Certificate((await issueLeaf(ca, { names: ['long.test'], days: MAX_LEAF_DAYS })).certPem)
  t.true(validityMs(long) <= 397 * DAY)
  const past = await issueLeaf(ca, { names: ['past.test'], days: 1, now: Date.now() - 10 * DAY })
  t.true(past.notAfter < Date.now())

  for (const days of [0, 398, 1.5]) await t.throwsAsync(issueLeaf(ca, { names: ['x.test'], days }), { instanceOf: CertError })
  await t.throwsAsync(issueLeaf(ca, { names: [] }), { instanceOf: CertError })
  for (const bad of ['bad name', 'a..b', '-x.test', 'x'.repeat(64) + '.test', 'a.*.test']) {
    await t.throwsAsync(issueLeaf(ca, { names: [bad] }), { instanceOf: CertError }, bad)
  }
  await t.throwsAsync(issueLeaf({ certPem: ca.certPem, keyPem: 'nope' }, { names: ['x.test'] }), { instanceOf: CertError })
})

withOpenssl('openssl verify accepts a leaf for a TLS server with the CA as the only trust anchor', async t => {
  const dir = await tempDir(t)
  const ca = await createCa({ name: 'verify CA', dir })
  const leaf = await issueLeaf(ca, { names: ['svc.example.com', '10.1.2.3'] })
  await writeFile(join(dir, 'leaf.pem'), leaf.certPem)
  const out = await new Promise<string>((resolve, reject) => {
    execFile('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'svc.example.com', '-CAfile', join(dir, CA_CERT_FILE), join(dir, 'leaf.pem')],
      { timeout: 10_000 }, (err, stdout, stderr) => { if (err !== null) reject(new Error(`${err.message}\n${stderr}`)); else resolve(stdout) })
  })
  t.regex(out, /leaf\.pem: OK/)
})
