import { createHash } from 'node:crypto'
import type { AcmeChallengeRowData } from '../gossip/rows.js'

/** How long a challenge row answers: longer than any order waits for its validation. */
export const CHALLENGE_TTL_MS = 10 * 60_000
/** The path prefix HTTP-01 validation asks for (RFC 8555 §8.3). */
export const CHALLENGE_PATH = '/.well-known/acme-challenge/'

/** The `acme` row key of a challenge. */
export function challengeKey (token: string): string {
  return `challenge/${token}`
}

/** The `acme` row key of the cluster's account with `directory`. */
export function accountKey (directory: string): string {
  return `account/${createHash('sha256').update(directory).digest('hex').slice(0, 32)}`
}

/** A replicated `acme` row as readers get it. */
export interface AcmeRowInput {
  key: string
  deleted: boolean
  data: Record<string, unknown> | null
}

/**
 * Token → key authorization of every unexpired challenge row (the data planes answer these).
 * Rows are schema-checked on arrival, so only the kind and the key's agreement are looked at here.
 */
export function pendingChallenges (rows: Iterable<AcmeRowInput>, now: number): Record<string, string> {
  const out: Record<string, string> = {}
  for (const r of rows) {
    if (r.deleted || r.data?.kind !== 'challenge') continue
    const c = r.data as AcmeChallengeRowData
    if (r.key !== challengeKey(c.token) || !(c.expiresAt > now)) continue
    out[c.token] = c.keyAuthorization
  }
  return out
}

/** The answer to `GET <target>` when it asks for a pending challenge; undefined for anything else. */
export function challengeAnswer (target: string, challenges: Readonly<Record<string, string>>): string | undefined {
  if (!target.startsWith(CHALLENGE_PATH)) return undefined
  const token = target.slice(CHALLENGE_PATH.length)
  return Object.hasOwn(challenges, token) ? challenges[token] : undefined
}
