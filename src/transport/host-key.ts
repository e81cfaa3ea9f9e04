import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import sodium from 'sodium-universal'
import { ConfigError } from '../errors/errors.js'

export const HOST_SEED_FILE = 'host.seed'

/**
 * The 32-byte seed of this host's keypair, created on first start (mode 0600) so the host id
 * stays the same across restarts.
 */
export async function loadOrCreateHostSeed (dataDir: string): Promise<Buffer> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const file = join(dataDir, HOST_SEED_FILE)
  try {
    const hex = (await readFile(file, 'utf8')).trim()
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new ConfigError(`${file} is not a 32-byte hex seed`)
    return Buffer.from(hex, 'hex')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const seed = randomBytes(32)
  await writeFile(file, seed.toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
  await chmod(file, 0o600)
  return seed
}

/** The host id for a seed: the hex of the ed25519 public key hyperswarm derives from it (without loading hyperdht). */
export function hostIdFromSeed (seed: Uint8Array): string {
  const publicKey = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  secretKey.fill(0)
  return publicKey.toString('hex')
}
