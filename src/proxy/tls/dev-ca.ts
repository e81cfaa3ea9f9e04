import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { CertError } from './errors.js'
import { isCertHostname, normalizeHostname } from './hostnames.js'
import { loadX509, type X509 } from './x509.js'

export const CA_CERT_FILE = 'ca.pem'
export const CA_KEY_FILE = 'ca-key.pem'
export const DEV_CA_NAME = 'roost dev CA'
export const CA_VALIDITY_DAYS = 3652
/** CA/Browser Forum ceiling for leaf certificates (398 days, minus one for clock skew). */
export const MAX_LEAF_DAYS = 397
export const DEFAULT_LEAF_DAYS = 90
/** Certificates start this long before issuance, so a peer whose clock is a little behind accepts them. */
const BACKDATE_MS = 5 * 60_000
const DAY_MS = 86_400_000
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const

/**
 * A certificate authority as plain data (PEM strings), so it can be posted to the data plane's
 * worker thread. The imported signing key is cached per object.
 */
export interface CaMaterial {
  /** The CA certificate, PEM. */
  certPem: string
  /** The CA private key, PKCS8 PEM. */
  keyPem: string
}

/** A leaf certificate and its key, as `issueLeaf` returns it. */
export interface IssuedLeaf {
  certPem: string
  /** PKCS8 PEM. */
  keyPem: string
  /** Expiry, ms since the epoch (whole seconds, as in the certificate). */
  notAfter: number
}

export interface IssueLeafOptions {
  /** DNS names (a `*.` wildcard allowed) and IP addresses; the first is also the subject CN. */
  names: string[]
  /** Validity, 1–397 days; 90 by default. */
  days?: number
  /** Issuance time, ms (defaults to now). */
  now?: number
}

interface Signer {
  cert: X509.X509Certificate
  key: CryptoKey
  aki: X509.AuthorityKeyIdentifierExtension
}

const signers = new WeakMap<CaMaterial, Promise<Signer>>()

/** Makes a new ECDSA P-256 CA valid for ten years and writes it into `dir` (`ca.pem`, `ca-key.pem` mode 0600). */
export async function createCa (init: { name: string, dir: string, now?: number }): Promise<CaMaterial> {
  const x509 = await loadX509()
  const certFile = join(init.dir, CA_CERT_FILE)
  if (await readFile(certFile).then(() => true, () => false)) throw new CertError(`a CA already exists in ${init.dir}`, { dir: init.dir })
  const now = init.now ?? Date.now()
  const keys = await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [init.name] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)
    ]
  })
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY')
  const ca: CaMaterial = { certPem: cert.toString('pem') + '\n', keyPem: keyPem + '\n' }
  await mkdir(init.dir, { recursive: true, mode: 0o700 })
  // The certificate is written last: its presence is what marks the CA complete (loadCa).
  await writeAtomically(join(init.dir, CA_KEY_FILE), ca.keyPem, 0o600)
  await writeAtomically(certFile, ca.certPem, 0o644)
  return ca
}

/** Reads the CA in `dir`; null when there is none. A CA that is there but unusable is a CertError. */
export async function loadCa (dir: string): Promise<CaMaterial | null> {
  let certPem: string
  try {
    certPem = await readFile(join(dir, CA_CERT_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new CertError(`cannot read the CA certificate in ${dir}: ${(err as Error).message}`, { dir })
  }
  let keyPem: string
  try {
    keyPem = await readFile(join(dir, CA_KEY_FILE), 'utf8')
  } catch (err) {
    throw new CertError(`the CA in ${dir} has a certificate but its key cannot be read: ${(err as Error).message}`, { dir })
  }
  try {
    const cert = new X509Certificate(certPem)
    if (!cert.ca) throw new Error('the certificate is not a CA')
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not match the certificate')
  } catch (err) {
    throw new CertError(`the CA in ${dir} is unusable: ${(err as Error).message}`, { dir })
  }
  return { certPem, keyPem }
}

/**
 * The dev CA in `dir`, created on first use and reused after (what `roost dev` hands its agents).
 * Two processes creating the same CA at once could pair one's key with the other's certificate
 * (loadCa would then refuse it), so call it once, before the agents start.
 */
export async function ensureDevCa (dir: string, name = DEV_CA_NAME): Promise<CaMaterial> {
  return await loadCa(dir) ?? await createCa({ name, dir })
}

/** Issues an ECDSA P-256 server certificate for `names`, signed by `ca`. */
export async function issueLeaf (ca: CaMaterial, opts: IssueLeafOptions): Promise<IssuedLeaf> {
  const x509 = await loadX509()
  const days = opts.days ?? DEFAULT_LEAF_DAYS
  if (!Number.isInteger(days) || days < 1 || days > MAX_LEAF_DAYS) throw new CertError(`days must be an integer 1–${MAX_LEAF_DAYS}, not ${days}`)
  if (opts.names.length === 0) throw new CertError('a certificate needs at least one name')
  const names = opts.names.map(n => isIP(n) !== 0 ? n : normalizeHostname(n))
  for (const n of names) {
    if (isIP(n) === 0 && !isCertHostname(n)) throw new CertError(`not a hostname or IP address: ${JSON.stringify(n)}`)
  }
  const signer = await signerFor(ca)
  const now = opts.now ?? Date.now()
  const notBefore = now - BACKDATE_MS
  const { publicKey, privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [names[0] as string] }],
    issuer: signer.cert.subjectName,
    notBefore: new Date(notBefore),
    notAfter: new Date(notBefore + days * DAY_MS),
    signingAlgorithm: SIGNING,
    publicKey,
    signingKey: signer.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n): X509.JsonGeneralName => ({ type: isIP(n) !== 0 ? 'ip' : 'dns', value: n }))),
      signer.aki,
      // RFC 5280 §4.2.1.2 method 1, computed here rather than through an async WebCrypto digest.
      new x509.SubjectKeyIdentifierExtension(createHash('sha1').update(publicKey.subarray(publicKey.length - 65)).digest('hex'))
    ]
  })
  return { certPem: cert.toString('pem') + '\n', keyPem: privateKey, notAfter: cert.notAfter.getTime() }
}

async function signerFor (ca: CaMaterial): Promise<Signer> {
  let signer = signers.get(ca)
  if (signer === undefined) {
    signer = importSigner(ca)
    signers.set(ca, signer)
    signer.catch(() => { signers.delete(ca) })
  }
  return await signer
}

async function importSigner (ca: CaMaterial): Promise<Signer> {
  const x509 = await loadX509()
  try {
    const cert = new x509.X509Certificate(ca.certPem)
    const der = x509.PemConverter.decodeFirst(ca.keyPem)
    const key = await webcrypto.subtle.importKey('pkcs8', der, EC, false, ['sign'])
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)
    const aki = ski === null
      ? await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey)
      : new x509.AuthorityKeyIdentifierExtension(ski.keyId)
    return { cert, key: key as CryptoKey, aki }
  } catch (err) {
    throw new CertError(`the CA cannot sign (it must be an ECDSA P-256 key and certificate): ${(err as Error).message}`)
  }
}

/** 128 random bits; the encoder adds a leading zero octet when the top bit is set, so it stays positive. */
function randomSerial (): string {
  return randomBytes(16).toString('hex')
}

async function writeAtomically (file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' })
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
