import { randomBytes } from 'node:crypto'
import test from 'ava'
import { CertError } from '../../../src/proxy/tls/errors.js'
import { openKey, sealKey } from '../../../src/proxy/tls/seal.js'
import { deriveClusterKeys } from '../../../src/transport/cluster-keys.js'

const key = deriveClusterKeys('prod', 's3cret').certKey
const PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n'

/** Flips one bit of the sealed bytes at `index` (0–11 IV, 12–27 tag, then ciphertext). */
function flip (sealed: string, index: number): string {
  const raw = Buffer.from(sealed.slice(3), 'base64')
  raw[index] = (raw[index] as number) ^ 0x01
  return 'v1.' + raw.toString('base64')
}

test('sealKey/openKey round trip; the output is v1.+base64 and never holds the PEM', t => {
  const sealed = sealKey(key, PEM)
  t.regex(sealed, /^v1\.[A-Za-z0-9+/]+=*$/)
  t.false(sealed.includes('PRIVATE KEY'))
  t.is(Buffer.from(sealed.slice(3), 'base64').length, 12 + 16 + Buffer.byteLength(PEM))
  t.is(openKey(key, sealed), PEM)
  t.is(openKey(key, sealKey(key, '')), '', 'an empty plaintext round-trips too')
})

test('each seal uses a fresh IV: the same key sealed twice differs, both open', t => {
  const a = sealKey(key, PEM)
  const b = sealKey(key, PEM)
  t.not(a, b)
  t.not(a.slice(3, 19), b.slice(3, 19))
  t.is(openKey(key, a), openKey(key, b))
})

test('tampering with the IV, the tag or the ciphertext is a CertError', t => {
  const sealed = sealKey(key, PEM)
  for (const index of [0, 11, 12, 27, 28, 40]) {
    t.throws(() => openKey(key, flip(sealed, index)), { instanceOf: CertError, message: /authentication failed/ }, `byte ${index}`)
  }
  const raw = Buffer.from(sealed.slice(3), 'base64')
  t.throws(() => openKey(key, 'v1.' + raw.subarray(0, raw.length - 1).toString('base64')), { instanceOf: CertError }, 'truncated')
})

test('another cluster secret cannot open it; malformed input and bad keys are CertErrors', t => {
  const sealed = sealKey(key, PEM)
  t.throws(() => openKey(deriveClusterKeys('prod', 'other').certKey, sealed), { instanceOf: CertError })
  t.throws(() => openKey(key, sealed.slice(3)), { instanceOf: CertError, message: /v1\. prefix/ })
  t.throws(() => openKey(key, 'v2.' + sealed.slice(3)), { instanceOf: CertError })
  t.throws(() => openKey(key, 'v1.AAAA'), { instanceOf: CertError, message: /too short/ })
  t.throws(() => sealKey(randomBytes(16), PEM), { instanceOf: CertError, message: /32 bytes/ })
  t.throws(() => openKey(randomBytes(31), sealed), { instanceOf: CertError })
  const err = t.throws(() => openKey(randomBytes(32), sealed))
  t.is((err as CertError).code, 'ERR_CERT')
})
