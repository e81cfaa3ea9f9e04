import { X509Certificate } from 'node:crypto'
import { Agent } from 'node:https'
import { rootCertificates } from 'node:tls'
import type * as AcmeClient from 'acme-client'
import type { Logger } from '../log/logger.js'
import { AcmeError } from './errors.js'

export interface AcmeOrderInit {
  directory: string
  /** The cluster's account key (PEM); the directory finds the account by it. */
  accountKeyPem: string
  email: string | null
  hostname: string
}

/** A challenge as the routers answer it. */
export interface PresentedChallenge {
  token: string
  keyAuthorization: string
  hostname: string
}

export interface AcmeOrderComponents {
  logger: Logger
  /** Makes every router answer the challenge; resolves once they do (or as far as can be told). */
  present: (challenge: PresentedChallenge) => Promise<void>
  /** Stops answering it (the order ended either way). */
  withdraw: (challenge: PresentedChallenge) => Promise<void>
}

export interface IssuedCertificate {
  /** The leaf, then the chain the directory sent. */
  certPem: string
  keyPem: string
  notBefore: number
  notAfter: number
}

/**
 * acme-client retries a failed request (network error, 5xx, 429) 5 times, 5 s more apart each
 * time: 75 s of waiting inside one order. Two attempts ride out a blip; longer outages are the
 * renewal backoff's job (src/acme/renewal.ts), which also says so in the log.
 */
const REQUEST_ATTEMPTS = 2

let loaded: Promise<typeof AcmeClient> | undefined

/** acme-client (with axios and node-forge), loaded on first use: agents that never use ACME never load it. */
async function loadAcme (): Promise<typeof AcmeClient> {
  loaded ??= import('acme-client').then(m => {
    const acme = (m as unknown as { default?: typeof AcmeClient }).default ?? m
    ;(acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = REQUEST_ATTEMPTS
    return acme
  })
  return await loaded
}

/** A fresh P-256 key as PKCS#8 PEM (certificate and account keys alike). */
export async function newAcmeKey (): Promise<string> {
  const acme = await loadAcme()
  return (await acme.crypto.createPrivateEcdsaKey('P-256')).toString()
}

/**
 * Trusts `caPem` besides the system roots for the directory's own HTTPS (a test CA such as
 * Pebble's). Verification stays on; the setting is process-wide, as acme-client has one HTTP client.
 */
export async function trustAcmeCa (caPem: string): Promise<void> {
  const acme = await loadAcme()
  acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, caPem] })
}

/**
 * One ACME order for `hostname` by HTTP-01: registers (or finds) the account, presents the
 * challenge through the routers, and returns the certificate with its new key. Any failure is
 * an AcmeError naming the step's cause.
 */
export async function orderCertificate (init: AcmeOrderInit, components: AcmeOrderComponents): Promise<IssuedCertificate> {
  const acme = await loadAcme()
  const log = components.logger.child({ hostname: init.hostname, directory: init.directory })
  const keyPem = await newAcmeKey()
  const client = new acme.Client({ directoryUrl: init.directory, accountKey: init.accountKeyPem, backoffAttempts: 10, backoffMin: 500, backoffMax: 5_000 })
  let certPem: string
  try {
    const [, csr] = await acme.crypto.createCsr({ commonName: init.hostname, altNames: [init.hostname] }, keyPem)
    certPem = await client.auto({
      csr,
      ...(init.email === null ? {} : { email: init.email }),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client's own check resolves the name from here; the routers are probed by `present` instead.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new AcmeError(`the directory offers no http-01 challenge for ${init.hostname}`)
        log.info({ token: challenge.token }, 'ACME: presenting the http-01 challenge')
        await components.present({ token: challenge.token, keyAuthorization, hostname: init.hostname })
      },
      challengeRemoveFn: async (_authz, challenge, keyAuthorization) => {
        await components.withdraw({ token: challenge.token, keyAuthorization, hostname: init.hostname })
      }
    })
  } catch (err) {
    if (err instanceof AcmeError) throw err
    throw new AcmeError(`ACME order for ${init.hostname} at ${init.directory} failed: ${describe(err)}`, { hostname: init.hostname })
  }
  const leaf = firstCertificate(certPem, init.hostname)
  return { certPem, keyPem, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo) }
}

function firstCertificate (pem: string, hostname: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch (err) {
    throw new AcmeError(`the directory returned no readable certificate for ${hostname}: ${(err as Error).message}`, { hostname })
  }
}

/** acme-client's errors carry the directory's problem document in their message; axios ones the HTTP cause. */
function describe (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = (err as { cause?: unknown }).cause
  return cause instanceof Error && !err.message.includes(cause.message) ? `${err.message} (${cause.message})` : err.message
}
