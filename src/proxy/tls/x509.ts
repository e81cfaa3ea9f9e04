import { webcrypto } from 'node:crypto'
import type * as X509 from '@peculiar/x509'

export type { X509 }

let loaded: Promise<typeof X509> | undefined

/**
 * @peculiar/x509, loaded on first use: only issuing certificates needs it, and with its ASN.1
 * schemas it is a good part of an idle agent's heap. reflect-metadata goes first (the schemas
 * use decorators), and the library gets node's WebCrypto. Reach x509 only through here.
 */
export async function loadX509 (): Promise<typeof X509> {
  loaded ??= (async () => {
    await import('reflect-metadata')
    const x509 = await import('@peculiar/x509')
    x509.cryptoProvider.set(webcrypto as unknown as Crypto)
    return x509
  })()
  return await loaded
}
