import { createHash } from 'node:crypto'

/**
 * Rendezvous (highest-random-weight) hashing: every host that sees the same candidates ranks them
 * the same for a key, with no coordination, and removing one candidate only moves the keys that
 * ranked it first. Used to pick, e.g., which survivor re-creates a dead host's machine.
 */
export function rendezvousWeight (key: string, candidate: string): bigint {
  return createHash('sha256').update(key).update('\u0000').update(candidate).digest().readBigUInt64BE(0)
}

/** `candidates` ordered best first for `key` (ties, which need a hash collision, by id). */
export function rendezvousRank (key: string, candidates: Iterable<string>): string[] {
  const weighted = [...new Set(candidates)].map((c) => ({ c, w: rendezvousWeight(key, c) }))
  weighted.sort((a, b) => (a.w === b.w ? (a.c < b.c ? -1 : 1) : a.w > b.w ? -1 : 1))
  return weighted.map((x) => x.c)
}

/** The candidate that owns `key`, or undefined when there are none. */
export function rendezvousPick (key: string, candidates: Iterable<string>): string | undefined {
  return rendezvousRank(key, candidates)[0]
}
