import test from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import { createNonceCache, encodeBackhaulHeader, readBackhaulHeader, verifyBackhaulHeader } from '../../src/proxy/backhaul-header.js'

const codec = createCodec()
const key = Buffer.alloc(32, 7)
const h = { from: 'a'.repeat(64), ts: 1_000_000, app: 'web', machine: '0123456789abcd', port: 8080, client: '10.0.0.1:5555' }

test('a header reads back, verifies once, and fails when replayed, tampered, stale or signed with another key', t => {
  const bytes = encodeBackhaulHeader(codec, key, h)
  const r = readBackhaulHeader(codec, Buffer.concat([bytes, Buffer.from('GET / HTTP/1.1\r\n')]))
  if (r.kind !== 'ok') { t.fail(r.kind); return }
  t.is(r.consumed, bytes.byteLength)
  t.like(r.header, h)
  const seen = createNonceCache()
  t.is(verifyBackhaulHeader(key, r.header, h.ts + 10, seen), undefined)
  t.is(verifyBackhaulHeader(key, r.header, h.ts + 10, seen), 'replayed nonce')
  t.is(verifyBackhaulHeader(key, { ...r.header, machine: 'ffffffffffffff' }, h.ts, createNonceCache()), 'bad mac')
  t.regex(verifyBackhaulHeader(key, r.header, h.ts + 10 * 60_000, createNonceCache()) ?? '', /clock skew/)
  t.is(verifyBackhaulHeader(Buffer.alloc(32, 8), r.header, h.ts, createNonceCache()), 'bad mac')
})

test('bytes that are not a header are refused before decoding; partial ones wait', t => {
  const bytes = encodeBackhaulHeader(codec, key, h)
  t.is(readBackhaulHeader(codec, bytes.subarray(0, 3)).kind, 'incomplete')
  t.is(readBackhaulHeader(codec, bytes.subarray(0, 10)).kind, 'incomplete')
  t.is(readBackhaulHeader(codec, Buffer.from('GET / HTTP/1.1\r\n')).kind, 'bad')
  const huge = Buffer.from(bytes)
  huge.writeUInt16BE(60_000, 4)
  t.like(readBackhaulHeader(codec, huge), { kind: 'bad' })
  const junk = Buffer.concat([bytes.subarray(0, 6), Buffer.alloc(bytes.byteLength - 6, 0xc1)])
  t.like(readBackhaulHeader(codec, junk), { kind: 'bad' })
})
