import { createHash, X509Certificate } from 'node:crypto'

/** Renew when less than this share of the certificate's lifetime is left. */
export const RENEW_LEFT_FRACTION = 1 / 3
/** First wait after a failed renewal; doubles per failure up to MAX_RETRY_MS. */
export const FIRST_RETRY_MS = 60_000
export const MAX_RETRY_MS = 6 * 3_600_000

/** When a certificate valid from `notBefore` to `notAfter` is due for renewal (ms). */
export function renewAt (notBefore: number, notAfter: number): number {
  return notAfter - Math.max(0, notAfter - notBefore) * RENEW_LEFT_FRACTION
}

/** How long to wait after the `failures`-th failure in a row (1 = the first). */
export function retryDelay (failures: number, firstMs = FIRST_RETRY_MS, maxMs = MAX_RETRY_MS): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, failures - 1))
}

/**
 * The hosts that may hold the renewer's role: every member not dead or left. A suspect host keeps
 * it: suspicion comes and goes under load, and handing the role over at each one would renew the
 * same certificate twice (and spend the directory's rate limit).
 */
export function renewalCandidates (members: ReadonlyArray<{ hostId: string, state: string }>): string[] {
  return members.filter(m => m.state === 'alive' || m.state === 'suspect').map(m => m.hostId)
}

/**
 * Which host renews `hostname`: the row's owner (the host that issued it) while it is alive,
 * else the alive host ranking first by rendezvous hash of (host id, hostname), so every host
 * picks the same one without talking and the choice moves only when that host dies.
 */
export function renewerOf (hostname: string, owner: string, alive: readonly string[]): string | undefined {
  if (alive.includes(owner)) return owner
  let best: string | undefined
  let bestScore = ''
  for (const host of alive) {
    const score = createHash('sha256').update(host).update('\0').update(hostname).digest('hex')
    if (best === undefined || score > bestScore) { best = host; bestScore = score }
  }
  return best
}

/** A `certs` row as the renewal decision reads it. */
export interface RenewalRow {
  key: string
  owner: string
  ownerDead: boolean
  deleted: boolean
  data: Record<string, unknown> | null
}

/** A certificate this host should renew now. */
export interface DueRenewal {
  hostname: string
  app: string | null
  /** The directory that issued it; null: the agent's `--acme-directory`. */
  directory: string | null
  notAfter: number
}

/**
 * The ACME certificates `self` renews now: due (less than a third of their life left), this
 * host their renewer (see renewerOf), and not waiting out a backoff after a failure
 * (`retryAt`: hostname → earliest next attempt).
 */
export function dueRenewals (rows: Iterable<RenewalRow>, opts: { self: string, alive: readonly string[], now: number, retryAt: ReadonlyMap<string, number> }): DueRenewal[] {
  const due: DueRenewal[] = []
  for (const r of rows) {
    if (r.deleted || r.data === null || r.data.source !== 'acme') continue
    const d = r.data as { hostname?: unknown, app?: unknown, certPem?: unknown, notAfter?: unknown, acmeDirectory?: unknown }
    if (typeof d.hostname !== 'string' || typeof d.certPem !== 'string' || typeof d.notAfter !== 'number') continue
    const notBefore = notBeforeOf(d.certPem) ?? d.notAfter - 90 * 86_400_000
    if (opts.now < renewAt(notBefore, d.notAfter)) continue
    if ((opts.retryAt.get(d.hostname) ?? 0) > opts.now) continue
    const owner = r.ownerDead ? '' : r.owner
    if (renewerOf(d.hostname, owner, opts.alive) !== opts.self) continue
    due.push({ hostname: d.hostname, app: typeof d.app === 'string' ? d.app : null, directory: typeof d.acmeDirectory === 'string' ? d.acmeDirectory : null, notAfter: d.notAfter })
  }
  return due
}

function notBeforeOf (pem: string): number | undefined {
  try {
    const t = Date.parse(new X509Certificate(pem).validFrom)
    return Number.isFinite(t) ? t : undefined
  } catch {
    return undefined
  }
}
