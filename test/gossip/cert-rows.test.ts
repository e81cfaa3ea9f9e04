import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import { differingBuckets, parseDigestEntries } from '../../src/gossip/digest.js'
import { createMemoryStore } from '../../src/gossip/replica-store.js'
import { createReplica, type Replica } from '../../src/gossip/replica.js'
import { checkRow } from '../../src/gossip/row-check.js'
import { MAX_CERT_PEM_BYTES, TABLES, type CertRowData } from '../../src/gossip/rows.js'
import { createSqliteStore } from '../../src/gossip/sqlite-store.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/runtime/clock.js'
import { hostKey, hostKeyOf, signed } from '../helpers/host-keys.js'

const A = hostKey('certs-a').hostId
const B = hostKey('certs-b').hostId
/** checkRow checks a signature's shape, not whose it is (the replica verifies it). */
const SIG = new Uint8Array(64)
const codec = createCodec()
/** Through msgpack and back, as rows travel between hosts. */
const wire = <T>(v: T): T => codec.decode(codec.encode(v)) as T

const cert = (hostname: string, extra: Record<string, unknown> = {}): CertRowData => ({
  hostname,
  app: 'demo',
  certPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  keySealed: 'v1.' + 'A'.repeat(200),
  notAfter: Date.now() + 86_400_000,
  source: 'ca',
  updatedAt: Date.now(),
  ...extra
} as CertRowData)

function replica (t: ExecutionContext, hostId: string, store = createMemoryStore()): Replica {
  const r = createReplica({ hostId }, { logger: silentLogger(), clock: systemClock, store, signer: hostKeyOf(hostId) })
  r.start()
  t.teardown(() => { r.stop() })
  return r
}

test('certs is a replicated table; checkRow accepts a well-formed row', t => {
  t.true(TABLES.includes('certs'))
  const row = checkRow({ table: 'certs', key: 'demo.example.com', owner: A, version: 1, deleted: false, sig: SIG, data: cert('demo.example.com') })
  t.is(typeof row, 'object', String(row))
  t.is(typeof checkRow({ table: 'certs', key: '*.example.com', owner: A, version: 1, deleted: false, sig: SIG, data: cert('*.example.com', { app: null, source: 'user' }) }), 'object')
  t.deepEqual(parseDigestEntries([['certs', 'demo.example.com', 3, A]]), [['certs', 'demo.example.com', 3, A]])
  t.is(typeof checkRow({ table: 'certs', key: 'demo.example.com', owner: A, version: 1, deleted: false, sig: SIG, data: cert('demo.example.com', { source: 'acme', acmeDirectory: 'https://acme.test/dir' }) }), 'object', 'an ACME certificate with its directory')
})

test('certs rows outside the schema are rejected: unknown fields, oversized PEMs, bad hostnames, sources or apps', t => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['extra field', { ...cert('a.example.com'), keyPem: 'plaintext!' }],
    ['oversized certPem', cert('a.example.com', { certPem: 'x'.repeat(MAX_CERT_PEM_BYTES + 1) })],
    ['oversized keySealed', cert('a.example.com', { keySealed: 'x'.repeat(MAX_CERT_PEM_BYTES + 1) })],
    ['uppercase hostname', cert('A.example.com')],
    ['hostname with a space', cert('a b.example.com')],
    ['wildcard in the middle', cert('a.*.example.com')],
    ['source', cert('a.example.com', { source: 'letsencrypt' })],
    ['acmeDirectory empty', cert('a.example.com', { source: 'acme', acmeDirectory: '' })],
    ['empty app', cert('a.example.com', { app: '' })],
    ['notAfter', cert('a.example.com', { notAfter: 'soon' })]
  ]
  for (const [why, data] of bad) {
    t.is(typeof checkRow({ table: 'certs', key: 'k', owner: A, version: 1, deleted: false, sig: SIG, data }), 'string', why)
  }
  const { hostname: _, ...missing } = cert('a.example.com')
  t.is(typeof checkRow({ table: 'certs', key: 'k', owner: A, version: 1, deleted: false, sig: SIG, data: missing }), 'string', 'missing hostname')
})

test('two replicas converge on certs rows through the digest exchange; a bad row in a batch is rejected alone', t => {
  const a = replica(t, A)
  const b = replica(t, B)
  a.write('certs', 'demo.example.com', cert('demo.example.com'))
  b.write('certs', '*.example.com', cert('*.example.com', { source: 'user' }))
  const buckets = differingBuckets(wire(a.digest()), wire(b.digest()))
  const theirs = wire(b.bucketEntries(buckets))
  b.merge(wire(a.rowsNewerThan(theirs, buckets)), A)
  a.merge(wire(b.getRows(wire(a.wanted(theirs)))), B)
  t.deepEqual(a.digest(), b.digest())
  t.deepEqual(a.list('certs').map(r => r.key).sort(), ['*.example.com', 'demo.example.com'])
  t.deepEqual(b.get('certs', 'demo.example.com')?.data, a.get('certs', 'demo.example.com')?.data)
  t.is(b.get('certs', 'demo.example.com')?.data?.keySealed, cert('x').keySealed)
  const version = (a.get('certs', 'demo.example.com')?.version ?? 0) + 1_000_000
  const result = b.merge([
    signed({ table: 'certs', key: 'x.example.com', owner: A, version, deleted: false, data: { ...cert('x.example.com'), keyPem: 'plaintext' } }),
    signed({ table: 'certs', key: 'y.example.com', owner: A, version, deleted: false, data: cert('y.example.com') })
  ], A)
  t.is(result.rejected.length, 1)
  t.is(b.get('certs', 'x.example.com'), undefined)
  t.truthy(b.get('certs', 'y.example.com'))
})

test('certs rows persist in the SQLite store and come back after a restart', t => {
  const dir = mkdtempSync(join(tmpdir(), 'roost-certs-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const path = join(dir, 'replica.db')
  const store1 = createSqliteStore({ path })
  const first = createReplica({ hostId: A }, { logger: silentLogger(), clock: systemClock, store: store1, signer: hostKeyOf(A) })
  first.start()
  first.write('certs', 'demo.example.com', cert('demo.example.com'))
  first.write('certs', 'gone.example.com', cert('gone.example.com'))
  first.delete('certs', 'gone.example.com')
  const digest = first.digest()
  first.stop()
  store1.close()

  const store2 = createSqliteStore({ path })
  t.teardown(() => { store2.close() })
  const second = replica(t, A, store2)
  t.deepEqual(second.digest(), digest)
  t.deepEqual(second.list('certs').map(r => r.key), ['demo.example.com'])
  t.true(second.get('certs', 'gone.example.com')?.deleted)
})
