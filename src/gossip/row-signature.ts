import sodium from 'sodium-universal'
import { InvalidArgumentError } from '../errors/errors.js'
import type { Row, UnsignedRow } from './rows.js'

/** Length of a row signature (ed25519). */
export const ROW_SIGNATURE_BYTES = 64
/** Domain separation: a row signature can't be taken for a signature of anything else the host key signs. */
const CONTEXT = 'roost/row/v1'

/**
 * Signs rows as this host. A host id is the hex of the host's ed25519 public key (the
 * hyperswarm keypair made from the host seed), so anyone verifies a row from its `owner` alone,
 * with no key lookup.
 */
export interface RowSigner {
  /** The hex public key: the host id the signed rows name as owner. */
  readonly hostId: string
  /** The signature of `row` (whose owner must be this host) over {@link rowSigningBytes}. */
  sign: (row: UnsignedRow) => Uint8Array
}

/** A signer from the host's 32-byte seed (host-key.ts), the same keypair hyperswarm derives from it. */
export function createRowSigner (seed: Uint8Array): RowSigner {
  if (seed.byteLength !== sodium.crypto_sign_SEEDBYTES) throw new InvalidArgumentError(`a host seed has ${sodium.crypto_sign_SEEDBYTES} bytes, got ${seed.byteLength}`)
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  const hostId = publicKey.toString('hex')
  return {
    hostId,
    sign (row) {
      if (row.owner !== hostId) throw new InvalidArgumentError(`cannot sign a row owned by ${row.owner.slice(0, 12)} as host ${hostId.slice(0, 12)}`)
      const sig = new Uint8Array(ROW_SIGNATURE_BYTES)
      sodium.crypto_sign_detached(sig, rowSigningBytes(row), secretKey)
      return sig
    }
  }
}

/**
 * Whether `row.sig` is its owner's signature of the row. The row must have passed checkRow
 * (bounded, closed data; 64-hex owner); anything else is simply not verified.
 */
export function verifyRowSignature (row: Row): boolean {
  if (row.sig.byteLength !== ROW_SIGNATURE_BYTES) return false
  let message: Buffer
  try {
    message = rowSigningBytes(row)
  } catch {
    return false
  }
  return sodium.crypto_sign_verify_detached(row.sig, message, Buffer.from(row.owner, 'hex'))
}

/**
 * The canonical bytes a row signature covers: the UTF-8 JSON of
 * `[context, table, key, owner, version, deleted, data]` with object keys sorted at every level,
 * so the same row signs the same whatever order its fields arrived in (msgpack keeps the
 * sender's order). Row data is plain JSON-like values (the closed schemas admit nothing else).
 */
export function rowSigningBytes (row: UnsignedRow): Buffer {
  return Buffer.from(`[${JSON.stringify(CONTEXT)},${JSON.stringify(row.table)},${JSON.stringify(row.key)},${JSON.stringify(row.owner)},${canonicalNumber(row.version)},${row.deleted ? 'true' : 'false'},${canonicalJson(row.data)}]`, 'utf8')
}

function canonicalJson (value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') return canonicalNumber(value)
  if (Array.isArray(value)) return `[${value.map(v => v === undefined ? 'null' : canonicalJson(v)).join(',')}]`
  if (typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const parts: string[] = []
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k]
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`)
    }
    return `{${parts.join(',')}}`
  }
  throw new InvalidArgumentError(`row data holds a ${typeof value}, which rows cannot carry`)
}

function canonicalNumber (n: number): string {
  if (!Number.isFinite(n)) throw new InvalidArgumentError('row data holds a non-finite number')
  return JSON.stringify(n)
}
