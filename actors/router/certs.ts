import { dataError } from '../../src/gossip/row-check.js'
import type { CertRowData } from '../../src/gossip/rows.js'
import { checkCert, parseChain, validity } from '../../src/proxy/tls/cert-check.js'
import type { CertsAddBody, CertsAddReply, CertsListBody, CertsListReply, CertsRmBody, CertsRmReply, CertView } from '../../src/proxy/tls/cert-messages.js'
import { DEFAULT_LEAF_DAYS, issueLeaf, type CaMaterial } from '../../src/proxy/tls/dev-ca.js'
import { CertError, CertNotFoundError, NoCaError } from '../../src/proxy/tls/errors.js'
import { certNames, isCertHostname, normalizeHostname } from '../../src/proxy/tls/hostnames.js'
import { sealKey } from '../../src/proxy/tls/seal.js'

export {
  CertsAddBody, CertsAddReply, CertsListBody, CertsListReply, CertsRmBody, CertsRmReply, CertView
} from '../../src/proxy/tls/cert-messages.js'

/** A row of the `certs` table as the replica lists it. */
export interface CertsTableRow {
  key: string
  deleted?: boolean
  data: Record<string, unknown> | null
}

/** What the router's certs handlers need from the actor: this host's CA, the cluster's certKey and the replica. */
export interface CertsDeps {
  ca: CaMaterial | null
  certKey: Buffer
  writeRow: (table: 'certs', key: string, data: CertRowData) => unknown
  deleteRow: (table: 'certs', key: string) => unknown
  listRows: (table: 'certs') => CertsTableRow[]
  now: () => number
  /** Validity of CA-issued certificates (default 90 days). */
  caDays?: number
}

/**
 * `router.certs-add`: with `certPem` and `keyPem`, the user's certificate after checking that it
 * parses, covers the hostname, is valid now and matches the key; without them, a certificate
 * issued by this host's CA. The key is sealed before it goes into the gossiped row.
 */
export async function addCert (msg: CertsAddBody, deps: CertsDeps): Promise<CertsAddReply> {
  const hostname = normalizeHostname(msg.hostname)
  if (!isCertHostname(hostname)) throw new CertError(`not a hostname: ${JSON.stringify(msg.hostname)} (a DNS name, or *.domain for a wildcard)`)
  if ((msg.certPem === undefined) !== (msg.keyPem === undefined)) throw new CertError('a certificate and its key go together: give both or neither')
  const now = deps.now()
  let certPem: string
  let keyPem: string
  let notAfter: number
  let source: CertRowData['source']
  if (msg.certPem !== undefined && msg.keyPem !== undefined) {
    const checked = checkCert({ hostname, certPem: msg.certPem, keyPem: msg.keyPem, now })
    // Only the certificate blocks travel: a key pasted into the certificate file must never be gossiped in the clear.
    certPem = checked.chain.map(c => c.toString()).join('')
    keyPem = checked.keyPem
    // node:tls is loaded here, not with the router: an agent that serves no TLS has no use for it (~0.8 MB of heap).
    const { createSecureContext } = await import('node:tls')
    try {
      createSecureContext({ cert: certPem, key: keyPem })
    } catch (err) {
      throw new CertError(`node:tls cannot serve this certificate: ${(err as Error).message}`, { hostname })
    }
    notAfter = checked.notAfter
    source = 'user'
  } else {
    if (deps.ca === null) throw new NoCaError(`this host has no CA to issue a certificate for ${hostname}: give --cert and --key, or start the agent with --ca-dir`, { hostname })
    const leaf = await issueLeaf(deps.ca, { names: [hostname], days: deps.caDays ?? DEFAULT_LEAF_DAYS, now })
    certPem = leaf.certPem
    keyPem = leaf.keyPem
    notAfter = leaf.notAfter
    source = 'ca'
  }
  const data: CertRowData = { hostname, app: msg.app ?? null, certPem, keySealed: sealKey(deps.certKey, keyPem), notAfter, source, updatedAt: now }
  const why = dataError('certs', data)
  if (why !== undefined) throw new CertError(`the certificate does not fit a certs row: ${why}`, { hostname })
  const replaced = liveRows(deps).some(r => r.key === hostname)
  await deps.writeRow('certs', hostname, data)
  return { cert: certView(data, now), replaced }
}

/** `router.certs-list`: every certificate row, by hostname; never a key. */
export function listCerts (_msg: CertsListBody, deps: CertsDeps): CertsListReply {
  const now = deps.now()
  const certs = liveRows(deps).map(r => certView(r.data as CertRowData, now))
  certs.sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)
  return { certs }
}

/** `router.certs-rm`: deletes the row for the hostname (the data planes stop serving it). */
export async function removeCert (msg: CertsRmBody, deps: CertsDeps): Promise<CertsRmReply> {
  const hostname = normalizeHostname(msg.hostname)
  if (!liveRows(deps).some(r => r.key === hostname)) throw new CertNotFoundError(`no certificate for ${hostname}`, { hostname })
  await deps.deleteRow('certs', hostname)
  return { hostname }
}

/** How a row shows in `roost certs list`: what it names and who issued it, read from the PEM itself. */
export function certView (row: CertRowData, now: number): CertView {
  const base = { hostname: row.hostname, app: row.app, source: row.source, updatedAt: row.updatedAt }
  try {
    const leaf = parseChain(row.certPem)[0] as NonNullable<ReturnType<typeof parseChain>[0]>
    const names = certNames(leaf)
    const { notAfter } = validity(leaf)
    return {
      ...base,
      notAfter,
      expired: !(notAfter > now),
      fingerprint: leaf.fingerprint256,
      issuer: leaf.issuer.split('\n').join(', '),
      names: [...names.dns, ...names.ip],
      error: null
    }
  } catch (err) {
    return { ...base, notAfter: row.notAfter, expired: !(row.notAfter > now), fingerprint: null, issuer: null, names: [], error: (err as Error).message }
  }
}

function liveRows (deps: CertsDeps): CertsTableRow[] {
  return deps.listRows('certs').filter(r => r.deleted !== true && r.data !== null)
}
