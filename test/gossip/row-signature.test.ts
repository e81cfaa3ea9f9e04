import test from 'ava'
import HyperDHT from 'hyperdht'
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { createCodec } from '../../src/codec/codec.js'
import { createRowSigner, rowSigningBytes, verifyRowSignature } from '../../src/gossip/row-signature.js'
import type { Row, UnsignedRow } from '../../src/gossip/rows.js'
import { serviceRow } from '../helpers/service-row.js'

const seedOf = (name: string): Buffer => createHash('sha256').update(name).digest()
const A = createRowSigner(seedOf('sig-a'))
const B = createRowSigner(seedOf('sig-b'))
const codec = createCodec()

const row = (owner = A.hostId): UnsignedRow => ({ table: 'services', key: 'web', owner, version: 123_456, deleted: false, data: serviceRow('web') })
const signedBy = (signer: typeof A, r: UnsignedRow): Row => ({ ...r, sig: signer.sign(r) })

test('the signer\'s host id is the hyperswarm public key of the same seed, so a host id verifies its rows', t => {
  const seed = seedOf('sig-dht')
  t.is(createRowSigner(seed).hostId, HyperDHT.keyPair(seed).publicKey.toString('hex'))
  t.throws(() => createRowSigner(Buffer.alloc(31)), { instanceOf: InvalidArgumentError })
})

test('a signed row verifies, also after msgpack and with its data keys in another order', t => {
  const r = signedBy(A, row())
  t.is(r.sig.byteLength, 64)
  t.true(verifyRowSignature(r))
  t.true(verifyRowSignature(codec.decode(codec.encode(r)) as Row))
  const reordered = Object.fromEntries(Object.entries(r.data ?? {}).reverse())
  t.true(verifyRowSignature({ ...r, data: reordered }))
  const tomb = signedBy(A, { ...row(), deleted: true, data: null })
  t.true(verifyRowSignature(tomb))
})

test('any change to a signed field breaks the signature', t => {
  const r = signedBy(A, row())
  const changed: Array<[string, Row]> = [
    ['table', { ...r, table: 'certs' }],
    ['key', { ...r, key: 'api' }],
    ['owner', { ...r, owner: B.hostId }],
    ['version', { ...r, version: r.version + 1 }],
    ['deleted', { ...r, deleted: true, data: null }],
    ['data', { ...r, data: { ...r.data, deployVersion: 99 } }],
    ['nested data', { ...r, data: { ...r.data, hostnames: ['evil.example.com'] } }],
    ['sig', { ...r, sig: Uint8Array.from(r.sig, (b, i) => i === 0 ? b ^ 1 : b) }],
    ['short sig', { ...r, sig: r.sig.subarray(1) }]
  ]
  for (const [what, bad] of changed) t.false(verifyRowSignature(bad), what)
})

test('a host cannot sign as another: the signer refuses, and its signature does not verify for the claimed owner', t => {
  t.throws(() => A.sign(row(B.hostId)), { instanceOf: InvalidArgumentError })
  const byA = signedBy(A, row())
  t.false(verifyRowSignature({ ...byA, owner: B.hostId }))
})

test('the canonical bytes do not depend on key order and differ between a string and a number', t => {
  const one = rowSigningBytes({ ...row(), data: { a: 1, b: { c: [1, 'x', null], d: true } } })
  const two = rowSigningBytes({ ...row(), data: { b: { d: true, c: [1, 'x', null] }, a: 1 } })
  t.deepEqual(one, two)
  t.notDeepEqual(rowSigningBytes({ ...row(), data: { a: 1 } }), rowSigningBytes({ ...row(), data: { a: '1' } }))
})

test('cost of signing and verifying one row (logged, not asserted)', t => {
  const n = 2_000
  const rows = Array.from({ length: n }, (_, i) => ({ ...row(), version: i + 1 }))
  let start = performance.now()
  const signedRows = rows.map(r => signedBy(A, r))
  const signUs = (performance.now() - start) * 1000 / n
  start = performance.now()
  let ok = 0
  for (const r of signedRows) if (verifyRowSignature(r)) ok++
  const verifyUs = (performance.now() - start) * 1000 / n
  t.is(ok, n)
  t.log(`per row (services row, ${rowSigningBytes(rows[0] as UnsignedRow).byteLength} canonical bytes): sign ${signUs.toFixed(1)} µs, verify ${verifyUs.toFixed(1)} µs`)
})
