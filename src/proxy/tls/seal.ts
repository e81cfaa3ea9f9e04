import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { CertError } from './errors.js'

const PREFIX = 'v1.'
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32

/**
 * Seals a private key PEM for the gossiped `certs` table: AES-256-GCM under the cluster's
 * `certKey` with a random 12-byte IV, as `v1.` + base64(iv ‖ tag ‖ ciphertext).
 */
export function sealKey (certKey: Buffer, keyPem: string): string {
  checkKey(certKey)
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', certKey, iv)
  const body = Buffer.concat([cipher.update(keyPem, 'utf8'), cipher.final()])
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')
}

/** Opens what `sealKey` made; a CertError when it is malformed, tampered with, or sealed under another key. */
export function openKey (certKey: Buffer, sealed: string): string {
  checkKey(certKey)
  if (!sealed.startsWith(PREFIX)) throw new CertError('sealed key: unknown format (expected the v1. prefix)')
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64')
  if (raw.length < IV_BYTES + TAG_BYTES) throw new CertError('sealed key: too short')
  const decipher = createDecipheriv('aes-256-gcm', certKey, raw.subarray(0, IV_BYTES))
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    throw new CertError('sealed key: authentication failed (tampered with, or sealed under another cluster secret)')
  }
}

function checkKey (certKey: Buffer): void {
  if (certKey.length !== KEY_BYTES) throw new CertError(`certKey must be ${KEY_BYTES} bytes, not ${certKey.length}`)
}
