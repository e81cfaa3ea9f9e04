import { createHash, randomBytes } from 'node:crypto'
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls'
import type { CertRowData } from '../../gossip/rows.js'
import type { Logger } from '../../log/logger.js'
import { checkCert } from './cert-check.js'
import { issueLeaf, type CaMaterial } from './dev-ca.js'
import { CertError } from './errors.js'
import { isCertHostname, normalizeHostname, wildcardOf } from './hostnames.js'
import { openKey } from './seal.js'

export const DEFAULT_ALPN: readonly string[] = ['http/1.1']
export const DEFAULT_ON_DEMAND_DAYS = 90
/** On-demand certificates are renewed when a third of their life (at most 30 days) is left. */
const MAX_RENEW_BEFORE_MS = 30 * 86_400_000
/** Bound of the on-demand cache; names are routed ones, so this is only reached by very large clusters. */
const MAX_ON_DEMAND = 10_000

export interface CertStoreInit {
  /** This host's CA, which issues certificates on demand for routed names without a row. */
  ca?: CaMaterial
  /** The cluster's key that opens the rows' sealed keys (`deriveClusterKeys(...).certKey`). */
  certKey: Buffer
  /** The cluster domain (app names are `<app>.<domain>`). */
  domain: string
  /** Validity of on-demand certificates (default 90 days). */
  onDemandDays?: number
  /** ALPN protocols offered per servername, in server preference (default `http/1.1`). */
  alpn?: (servername: string) => readonly string[]
}

export interface CertStoreComponents {
  logger: Logger
  /** Wall clock, ms (defaults to Date.now); decides expiry and renewal. */
  now?: () => number
}

export type SniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void

export interface CertStoreStats {
  /** Rows serving (valid and opened). */
  rows: number
  /** Rows skipped as invalid, unopenable or expired at the last setRows. */
  skipped: number
  /** Names with an on-demand certificate cached. */
  onDemand: number
  /** On-demand certificates issued since start (renewals included). */
  issued: number
}

/**
 * Certificates by SNI for the data plane: `certs` rows (exact name, then `*.` wildcard), then
 * on-demand leaves from the CA for routed names. One SecureContext per certificate, all sharing
 * one set of session-ticket keys so resumption works whichever context served the first handshake.
 */
export interface CertStore {
  /** Replaces the rows; bad ones are logged and skipped, never thrown. Unchanged rows keep their context. */
  setRows: (rows: readonly CertRowData[]) => void
  /** Which names on-demand issuance may cover (app names and apps' custom hostnames). */
  setRoutedNames: (routed: (hostname: string) => boolean) => void
  /** For `tls.createServer({ SNICallback })` or `new TLSSocket(s, { isServer, SNICallback })`; errors fail the handshake. */
  sniCallback: SniCallback
  /** The context for a servername, by the same order as sniCallback. */
  contextFor: (servername: string) => Promise<SecureContext>
  /** For clients without SNI: `fallbackName`'s context, or a certificate-less one (such handshakes fail). */
  defaultContext: (fallbackName?: string) => Promise<SecureContext>
  /** Picks the first of the servername's ALPN protocols the client offered; undefined rejects the handshake. */
  alpnCallback: (info: { servername: string, protocols: string[] }) => string | undefined
  /** Options for `tls.createServer`: SNICallback, ALPNCallback and the shared ticket keys. */
  serverOptions: () => TlsOptions
  stats: () => CertStoreStats
}

interface Served {
  ctx: SecureContext
  notAfter: number
}

interface RowEntry extends Served {
  fingerprint: string
}

interface OnDemandEntry extends Served {
  renewAt: number
}

export function createCertStore (init: CertStoreInit, components: CertStoreComponents): CertStore {
  const logger = components.logger.child({ component: 'cert-store', domain: init.domain })
  const now = components.now ?? Date.now
  const ticketKeys = randomBytes(48)
  const alpnFor = init.alpn ?? (() => DEFAULT_ALPN)
  const onDemandDays = init.onDemandDays ?? DEFAULT_ON_DEMAND_DAYS
  let rows = new Map<string, RowEntry>()
  let rejected = new Map<string, string>()
  let routed: (hostname: string) => boolean = () => false
  const onDemand = new Map<string, OnDemandEntry>()
  const pending = new Map<string, Promise<OnDemandEntry>>()
  let issued = 0
  let bare: SecureContext | undefined

  const contextOf = (certPem: string, keyPem: string): SecureContext =>
    createSecureContext({ cert: certPem, key: keyPem, ticketKeys, minVersion: 'TLSv1.2' })

  const rowEntry = (row: CertRowData, at: number): RowEntry => {
    const hostname = normalizeHostname(row.hostname)
    if (!isCertHostname(hostname)) throw new CertError(`not a hostname: ${JSON.stringify(row.hostname)}`)
    const keyPem = openKey(init.certKey, row.keySealed)
    const checked = checkCert({ hostname, certPem: row.certPem, keyPem, now: at })
    return { ctx: contextOf(row.certPem, checked.keyPem), notAfter: checked.notAfter, fingerprint: fingerprintOf(row) }
  }

  const setRows = (next: readonly CertRowData[]): void => {
    const at = now()
    const built = new Map<string, RowEntry>()
    const bad = new Map<string, string>()
    for (const row of next) {
      const hostname = normalizeHostname(String(row?.hostname))
      try {
        const old = rows.get(hostname)
        built.set(hostname, old !== undefined && old.fingerprint === fingerprintOf(row) && old.notAfter > at ? old : rowEntry(row, at))
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err)
        const seen = rejected.get(hostname)
        const mark = `${fingerprintOf(row)} ${reason}`
        if (seen !== mark) logger.warn({ hostname, source: row?.source, reason }, 'certificate row skipped')
        bad.set(hostname, mark)
      }
    }
    rows = built
    rejected = bad
  }

  const rowFor = (host: string, at: number): RowEntry | undefined => {
    const exact = rows.get(host)
    if (exact !== undefined && exact.notAfter > at) return exact
    const wildcard = host.startsWith('*.') ? null : wildcardOf(host)
    const wild = wildcard === null ? undefined : rows.get(wildcard)
    return wild !== undefined && wild.notAfter > at ? wild : undefined
  }

  const issue = async (host: string): Promise<OnDemandEntry> => {
    let p = pending.get(host)
    if (p === undefined) {
      const ca = init.ca as CaMaterial
      p = (async () => {
        const leaf = await issueLeaf(ca, { names: [host], days: onDemandDays, now: now() })
        issued++
        const lifetime = leaf.notAfter - now()
        const entry = { ctx: contextOf(leaf.certPem, leaf.keyPem), notAfter: leaf.notAfter, renewAt: leaf.notAfter - Math.min(lifetime / 3, MAX_RENEW_BEFORE_MS) }
        onDemand.delete(host)
        onDemand.set(host, entry)
        if (onDemand.size > MAX_ON_DEMAND) onDemand.delete(onDemand.keys().next().value as string)
        logger.debug({ hostname: host, notAfter: leaf.notAfter }, 'issued an on-demand certificate')
        return entry
      })().finally(() => { pending.delete(host) })
      pending.set(host, p)
    }
    return await p
  }

  /** A context at once when one is ready, else the promise of one (issuance), or a CertError. */
  const resolve = (servername: string): Served | Promise<Served> => {
    const host = normalizeHostname(servername)
    const at = now()
    const row = rowFor(host, at)
    if (row !== undefined) return row
    if (init.ca === undefined || !isCertHostname(host) || host.startsWith('*.') || !routed(host)) {
      throw new CertError(`no certificate for ${host}`, { hostname: host })
    }
    const cached = onDemand.get(host)
    if (cached !== undefined && cached.notAfter > at) {
      if (at >= cached.renewAt && !pending.has(host)) {
        issue(host).catch(err => { logger.warn({ hostname: host, err }, 'on-demand certificate renewal failed') })
      }
      return cached
    }
    return issue(host)
  }

  const contextFor = async (servername: string): Promise<SecureContext> => (await resolve(servername)).ctx

  const sniCallback: SniCallback = (servername, cb) => {
    let served: Served | Promise<Served>
    try {
      served = resolve(servername)
    } catch (err) {
      logger.debug({ servername, reason: (err as Error).message }, 'TLS handshake refused: no certificate')
      cb(err as Error)
      return
    }
    if (!(served instanceof Promise)) {
      cb(null, served.ctx)
      return
    }
    served.then(s => { cb(null, s.ctx) }, (err: unknown) => {
      logger.warn({ servername, err }, 'TLS handshake refused: on-demand issuance failed')
      cb(err instanceof Error ? err : new CertError(String(err)))
    })
  }

  const alpnCallback = ({ servername, protocols }: { servername: string, protocols: string[] }): string | undefined =>
    selectAlpn(protocols, alpnFor(normalizeHostname(servername ?? '')))

  return {
    setRows,
    setRoutedNames (pred) {
      routed = pred
      for (const name of [...onDemand.keys()]) if (!pred(name)) onDemand.delete(name)
    },
    sniCallback,
    contextFor,
    async defaultContext (fallbackName) {
      if (fallbackName !== undefined) return await contextFor(fallbackName)
      bare ??= createSecureContext({ ticketKeys, minVersion: 'TLSv1.2' })
      return bare
    },
    alpnCallback,
    serverOptions () {
      return {
        SNICallback: sniCallback,
        ALPNCallback: alpnCallback,
        ticketKeys,
        minVersion: 'TLSv1.2'
      }
    },
    stats: () => ({ rows: rows.size, skipped: rejected.size, onDemand: onDemand.size, issued })
  }
}

/** The first of `supported` (server preference) that the client offered, else undefined (a fatal alert). */
export function selectAlpn (offered: readonly string[], supported: readonly string[]): string | undefined {
  return supported.find(p => offered.includes(p))
}

function fingerprintOf (row: CertRowData): string {
  return createHash('sha256').update(String(row?.certPem)).update('\0').update(String(row?.keySealed)).digest('hex')
}
