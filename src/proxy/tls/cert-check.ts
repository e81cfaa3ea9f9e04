import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { CertError } from './errors.js'
import { certNames, namesCover, type CertNames } from './hostnames.js'

/** A certificate chain that passed `checkCert`. */
export interface CheckedCert {
  /** The leaf, then any intermediates, as given. */
  chain: X509Certificate[]
  leaf: X509Certificate
  names: CertNames
  notBefore: number
  notAfter: number
  /** The key as PKCS8 PEM (whatever form it came in). */
  keyPem: string
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Parses every CERTIFICATE block of a PEM, leaf first; a CertError when there is none or one does not parse. */
export function parseChain (certPem: string): X509Certificate[] {
  const blocks = certPem.match(PEM_CERT) ?? []
  if (blocks.length === 0) throw new CertError('no PEM certificate found')
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block)
    } catch (err) {
      throw new CertError(`certificate ${i + 1} of the chain does not parse: ${(err as Error).message}`)
    }
  })
}

/** The certificate's notAfter / notBefore in ms. */
export function validity (cert: X509Certificate): { notBefore: number, notAfter: number } {
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) }
}

/**
 * Everything a certificate must be before it serves `hostname`: a chain whose links sign one
 * another, a leaf naming the hostname (SAN), valid at `now`, and a key that matches the leaf.
 * Throws a CertError saying what is wrong.
 */
export function checkCert (init: { hostname: string, certPem: string, keyPem: string, now: number }): CheckedCert {
  const chain = parseChain(init.certPem)
  const leaf = chain[0] as X509Certificate
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate
    const parent = chain[i + 1] as X509Certificate
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new CertError(`certificate ${i + 1} of the chain is not signed by certificate ${i + 2} (the leaf must come first, then its issuers)`)
    }
  }
  const names = certNames(leaf)
  if (!namesCover(names, init.hostname)) {
    throw new CertError(`the certificate does not cover ${init.hostname} (its names: ${[...names.dns, ...names.ip].join(', ') || 'none'})`, { hostname: init.hostname })
  }
  const { notBefore, notAfter } = validity(leaf)
  if (!(notAfter > init.now)) throw new CertError(`the certificate expired on ${leaf.validTo}`, { hostname: init.hostname, notAfter })
  if (!(notBefore <= init.now)) throw new CertError(`the certificate is not valid before ${leaf.validFrom}`, { hostname: init.hostname, notBefore })
  let key: KeyObject
  try {
    key = createPrivateKey(init.keyPem)
  } catch (err) {
    throw new CertError(`the private key does not parse (an encrypted key must be decrypted first): ${(err as Error).message}`)
  }
  if (!leaf.checkPrivateKey(key)) throw new CertError('the private key does not match the certificate', { hostname: init.hostname })
  return { chain, leaf, names, notBefore, notAfter, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() }
}
