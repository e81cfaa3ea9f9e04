import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import test, { type ExecutionContext } from 'ava'
import { addCert, CertsAddReply, CertsListReply, listCerts, removeCert, type CertsDeps } from '../../actors/router/certs.js'
import { createMemoryStore } from '../../src/gossip/replica-store.js'
import { createReplica, type Replica } from '../../src/gossip/replica.js'
import type { CertRowData } from '../../src/gossip/rows.js'
import { silentLogger } from '../../src/log/logger.js'
import { createCertStore } from '../../src/proxy/tls/cert-store.js'
import { createCa, issueLeaf, type CaMaterial, type IssuedLeaf } from '../../src/proxy/tls/dev-ca.js'
import { CertError, CertNotFoundError, NoCaError } from '../../src/proxy/tls/errors.js'
import { openKey } from '../../src/proxy/tls/seal.js'
import { systemClock } from '../../src/runtime/clock.js'
import { tempDir } from '../helpers/cli.js'
import { randomHostId } from '../helpers/fixtures.js'
import { hostKeyOf } from '../helpers/host-keys.js'

const DAY = 86_400_000

interface Setup { ca: CaMaterial, userCa: CaMaterial, replica: Replica, deps: CertsDeps, certKey: Buffer }

async function setup (t: ExecutionContext, opts: { withCa?: boolean } = {}): Promise<Setup> {
  const dir = await tempDir(t)
  const ca = await createCa({ name: 'host CA', dir: join(dir, 'ca') })
  const userCa = await createCa({ name: 'public CA', dir: join(dir, 'user-ca') })
  const hostId = randomHostId()
  const replica = createReplica({ hostId }, { logger: silentLogger(), clock: systemClock, store: createMemoryStore(), signer: hostKeyOf(hostId) })
  replica.start()
  t.teardown(() => { replica.stop() })
  const certKey = randomBytes(32)
  const deps: CertsDeps = {
    ca: opts.withCa === false ? null : ca,
    certKey,
    writeRow: (table, key, data) => replica.write(table, key, data),
    deleteRow: (table, key) => replica.delete(table, key),
    listRows: table => replica.list(table),
    now: () => Date.now()
  }
  return { ca, userCa, replica, deps, certKey }
}

const row = (s: Setup, hostname: string): CertRowData => s.replica.get('certs', hostname)?.data as CertRowData
const pems = (leaf: IssuedLeaf, chain = ''): { certPem: string, keyPem: string } => ({ certPem: leaf.certPem + chain, keyPem: leaf.keyPem })

test('without PEMs the host CA issues the certificate; the row holds the sealed key, and the reply never a key', async t => {
  const s = await setup(t)
  const reply = await addCert({ hostname: 'Demo.Example.com.', app: 'demo' }, s.deps)
  t.true(Value.Check(CertsAddReply, reply))
  t.false(reply.replaced)
  t.is(reply.cert.hostname, 'demo.example.com')
  t.is(reply.cert.source, 'ca')
  t.is(reply.cert.issuer, 'CN=host CA')
  t.deepEqual(reply.cert.names, ['demo.example.com'])
  t.false(reply.cert.expired)
  t.is(reply.cert.error, null)

  const data = row(s, 'demo.example.com')
  t.is(data.app, 'demo')
  t.is(data.source, 'ca')
  t.false(JSON.stringify(data).includes('PRIVATE KEY'))
  const keyPem = openKey(s.certKey, data.keySealed)
  t.regex(keyPem, /^-----BEGIN PRIVATE KEY-----/)
  const cert = new X509Certificate(data.certPem)
  t.true(cert.checkPrivateKey(createPrivateKey(keyPem)))
  t.true(cert.checkIssued(new X509Certificate(s.ca.certPem)))
  t.is(reply.cert.fingerprint, cert.fingerprint256)
  t.is(data.notAfter, Date.parse(cert.validTo))
  t.is(Math.round((data.notAfter - Date.now()) / DAY), 90)

  t.true((await addCert({ hostname: 'demo.example.com' }, s.deps)).replaced)
  t.is(row(s, 'demo.example.com').app, null)
  t.is((await addCert({ hostname: '*.apps.example.com' }, s.deps)).cert.names[0], '*.apps.example.com')
})

test('without PEMs on a host without a CA: NoCaError, nothing written', async t => {
  const s = await setup(t, { withCa: false })
  const err = await t.throwsAsync(addCert({ hostname: 'demo.example.com' }, s.deps), { instanceOf: NoCaError })
  t.is(err?.code, 'ERR_NO_CA')
  t.is(s.replica.count('certs'), 0)
})

test('user PEMs: a valid chain is stored (certificates only, the key as PKCS8), whatever key format came in', async t => {
  const s = await setup(t, { withCa: false })
  const leaf = await issueLeaf(s.userCa, { names: ['shop.example.com', 'www.shop.example.com'] })
  const sec1 = createPrivateKey(leaf.keyPem).export({ type: 'sec1', format: 'pem' }).toString()
  const reply = await addCert({ hostname: 'www.shop.example.com', app: 'shop', certPem: leaf.certPem + s.userCa.certPem + leaf.keyPem, keyPem: sec1 }, s.deps)
  t.is(reply.cert.source, 'user')
  t.is(reply.cert.issuer, 'CN=public CA')
  t.deepEqual(reply.cert.names, ['shop.example.com', 'www.shop.example.com'])
  const data = row(s, 'www.shop.example.com')
  t.is(data.certPem.match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf and issuer')
  t.false(data.certPem.includes('PRIVATE KEY'), 'a key pasted into the certificate file is not gossiped')
  t.regex(openKey(s.certKey, data.keySealed), /^-----BEGIN PRIVATE KEY-----/)

  const wild = await issueLeaf(s.userCa, { names: ['*.wild.example.com'] })
  t.is((await addCert({ hostname: '*.wild.example.com', ...pems(wild) }, s.deps)).cert.hostname, '*.wild.example.com')
  t.is((await addCert({ hostname: 'a.wild.example.com', ...pems(wild) }, s.deps)).cert.hostname, 'a.wild.example.com', 'a wildcard certificate for a name under it')
})

test('user PEMs are refused when the key does not match, the name is not covered, or the certificate is expired, not yet valid or unreadable', async t => {
  const s = await setup(t)
  const leaf = await issueLeaf(s.userCa, { names: ['demo.example.com'] })
  const other = await issueLeaf(s.userCa, { names: ['demo.example.com'] })
  const reject = async (body: Parameters<typeof addCert>[0], message: RegExp): Promise<void> => {
    await t.throwsAsync(addCert(body, s.deps), { instanceOf: CertError, message }, message.source)
  }
  await reject({ hostname: 'demo.example.com', certPem: leaf.certPem, keyPem: other.keyPem }, /does not match/)
  await reject({ hostname: 'other.example.com', ...pems(leaf) }, /does not cover other\.example\.com/)
  await reject({ hostname: '*.example.com', ...pems(leaf) }, /does not cover/)
  await reject({ hostname: 'demo.example.com', ...pems(await issueLeaf(s.userCa, { names: ['demo.example.com'], days: 1, now: Date.now() - 3 * DAY })) }, /expired/)
  await reject({ hostname: 'demo.example.com', ...pems(await issueLeaf(s.userCa, { names: ['demo.example.com'], now: Date.now() + 3 * DAY })) }, /not valid before/)
  await reject({ hostname: 'demo.example.com', certPem: s.userCa.certPem + leaf.certPem, keyPem: leaf.keyPem }, /not signed by/)
  await reject({ hostname: 'demo.example.com', certPem: 'hello', keyPem: leaf.keyPem }, /no PEM certificate/)
  await reject({ hostname: 'demo.example.com', certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', keyPem: leaf.keyPem }, /does not parse/)
  await reject({ hostname: 'demo.example.com', certPem: leaf.certPem, keyPem: 'nope' }, /private key does not parse/)
  const encrypted = createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString()
  await reject({ hostname: 'demo.example.com', certPem: leaf.certPem, keyPem: encrypted }, /encrypted key/)
  await reject({ hostname: 'demo.example.com', certPem: leaf.certPem }, /go together/)
  await reject({ hostname: 'demo.example.com', keyPem: leaf.keyPem }, /go together/)
  await reject({ hostname: 'bad name', ...pems(leaf) }, /not a hostname/)
  await reject({ hostname: 'a.*.example.com' }, /not a hostname/)
  t.is(s.replica.count('certs'), 0, 'nothing was written')
})

test('listCerts: every row by hostname, expiry, issuer and fingerprint, an unreadable one flagged; never a key', async t => {
  const s = await setup(t)
  await addCert({ hostname: 'b.example.com', app: 'b' }, s.deps)
  await addCert({ hostname: 'a.example.com', ...pems(await issueLeaf(s.userCa, { names: ['a.example.com'] })) }, s.deps)
  const good = row(s, 'a.example.com')
  s.replica.write('certs', 'c.example.com', { ...good, hostname: 'c.example.com', certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' })
  await addCert({ hostname: 'gone.example.com' }, s.deps)
  await removeCert({ hostname: 'gone.example.com' }, s.deps)

  const later = { ...s.deps, now: () => Date.now() + 100 * DAY }
  const reply = listCerts({}, later)
  t.true(Value.Check(CertsListReply, reply))
  t.deepEqual(reply.certs.map(c => c.hostname), ['a.example.com', 'b.example.com', 'c.example.com'])
  const [a, b, c] = reply.certs
  t.is(a?.source, 'user')
  t.is(a?.issuer, 'CN=public CA')
  t.is(b?.app, 'b')
  t.is(b?.issuer, 'CN=host CA')
  t.regex(b?.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
  t.true(a?.expired === true && b?.expired === true, '100 days on, the 90-day certificates have expired')
  t.false(listCerts({}, s.deps).certs.some(x => x.expired && x.error === null))
  t.is(c?.fingerprint, null)
  t.regex(c?.error ?? '', /does not parse/)
  const text = JSON.stringify(reply)
  t.false(text.includes('PRIVATE KEY'))
  t.false(text.includes('v1.'))
})

test('removeCert deletes the row (a tombstone); a missing hostname is CertNotFoundError', async t => {
  const s = await setup(t)
  await addCert({ hostname: 'demo.example.com' }, s.deps)
  t.deepEqual(await removeCert({ hostname: 'DEMO.example.com' }, s.deps), { hostname: 'demo.example.com' })
  t.true(s.replica.get('certs', 'demo.example.com')?.deleted)
  t.is(listCerts({}, s.deps).certs.length, 0)
  const err = await t.throwsAsync(removeCert({ hostname: 'demo.example.com' }, s.deps), { instanceOf: CertNotFoundError })
  t.is(err?.code, 'ERR_CERT_NOT_FOUND')
})

test('rows that addCert wrote are what a data plane\'s cert store serves', async t => {
  const s = await setup(t)
  await addCert({ hostname: 'ca.example.com' }, s.deps)
  const user = await issueLeaf(s.userCa, { names: ['*.user.example.com'] })
  await addCert({ hostname: '*.user.example.com', ...pems(user) }, s.deps)
  const store = createCertStore({ certKey: s.certKey, domain: 'roost.test' }, { logger: silentLogger() })
  store.setRows(s.replica.list('certs').map(r => r.data as CertRowData))
  t.deepEqual(store.stats(), { rows: 2, skipped: 0, onDemand: 0, issued: 0 })
  await t.notThrowsAsync(store.contextFor('ca.example.com'))
  await t.notThrowsAsync(store.contextFor('x.user.example.com'))
})
