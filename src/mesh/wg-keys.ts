import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MeshError } from '../errors/errors.js'

/** A WireGuard (Curve25519) key pair, each key 32 bytes in base64 as `wg` prints them. */
export interface WgKeyPair {
  privateKey: string
  publicKey: string
}

export const WG_KEY_FILE = 'wireguard.key'
const KEY_BYTES = 32
const FILE_MODE = 0o600
// DER wrappers around a raw X25519 key (RFC 8410), so node:crypto takes and gives raw keys.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_PREFIX_LENGTH = 12

/** The 32 raw bytes of a base64 WireGuard key, or null when it is not one. */
export function decodeWgKey (key: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(key)) return null
  const raw = Buffer.from(key, 'base64')
  return raw.length === KEY_BYTES && raw.toString('base64') === key ? raw : null
}

export function isWgKey (key: string): boolean {
  return decodeWgKey(key) !== null
}

/** The public key of a base64 private key (as `wg pubkey` computes it). */
export function wgPublicKeyOf (privateKey: string): string {
  const raw = decodeWgKey(privateKey)
  if (raw === null) throw new MeshError('not a WireGuard private key (32 bytes of base64)')
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' })
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' })
  return spki.subarray(SPKI_PREFIX_LENGTH).toString('base64')
}

/** A fresh key pair; the private key is clamped like `wg genkey`'s. */
export function generateWgKeyPair (): WgKeyPair {
  const raw = randomBytes(KEY_BYTES)
  raw[0] = raw[0]! & 248
  raw[31] = (raw[31]! & 127) | 64
  const privateKey = raw.toString('base64')
  return { privateKey, publicKey: wgPublicKeyOf(privateKey) }
}

async function readKeyFile (file: string): Promise<WgKeyPair> {
  const privateKey = (await readFile(file, 'utf8')).trim()
  if (!isWgKey(privateKey)) throw new MeshError(`${file} does not hold a WireGuard private key`, { file })
  return { privateKey, publicKey: wgPublicKeyOf(privateKey) }
}

/**
 * This host's WireGuard key, kept in `<dataDir>/wireguard.key` (mode 0600): created on the
 * first call, reused after. A file with a looser mode is tightened; one that does not hold a
 * key is a MeshError (it is never overwritten: a host's key is its mesh identity).
 */
export async function loadOrCreateWgKey (dataDir: string): Promise<WgKeyPair & { file: string }> {
  const file = join(dataDir, WG_KEY_FILE)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const fresh = generateWgKeyPair()
  try {
    // 'wx': of two agents racing on one data dir, exactly one writes and both read the same key.
    await writeFile(file, fresh.privateKey + '\n', { flag: 'wx', mode: FILE_MODE })
    return { ...fresh, file }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new MeshError(`cannot write ${file}: ${(err as Error).message}`, { file })
  }
  const st = await stat(file)
  if (!st.isFile()) throw new MeshError(`${file} is not a file`, { file })
  if ((st.mode & 0o777) !== FILE_MODE) await chmod(file, FILE_MODE)
  return { ...(await readKeyFile(file)), file }
}
