import { createHash } from 'node:crypto'
import { isIPv6 } from 'node:net'

/** Length of a cluster's mesh prefix: each cluster is one /48 ULA, each host a /128 in it. */
export const MESH_PREFIX_LENGTH = 48
const PREFIX_DOMAIN = 'roost/mesh/v1\0'
const PREFIX_BYTES = MESH_PREFIX_LENGTH / 8

function prefixBytes (cluster: string): Buffer {
  const digest = createHash('sha256').update(PREFIX_DOMAIN + cluster).digest()
  // RFC 4193: fd00::/8 (L=1) followed by a 40-bit pseudo-random global id.
  return Buffer.concat([Buffer.from([0xfd]), digest.subarray(0, 5)])
}

/** RFC 5952 text: lower case, no leading zeros, the longest (first) run of ≥2 zero groups as `::`. */
export function formatIpv6 (bytes: Uint8Array): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = groups.map(g => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':')
}

/** The 16 bytes of an IPv6 address in text form (no zone, no prefix length), or null. */
export function parseIpv6 (text: string): Buffer | null {
  if (!isIPv6(text) || text.includes('%')) return null
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes its two hex groups.
  const hexText = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`)
  const parseGroups = (s: string): number[] => s === '' ? [] : s.split(':').map(g => parseInt(g, 16))
  const [left, right] = hexText.split('::') as [string, string | undefined]
  const l = parseGroups(left)
  const r = right === undefined ? [] : parseGroups(right)
  const groups = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r]
  if (groups.length !== 8) return null
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2))
  return out
}

/** The cluster's mesh prefix, `fdXX:XXXX:XXXX::/48` (an RFC 4193 ULA whose global id comes from the cluster name). */
export function meshPrefix (cluster: string): string {
  return `${formatIpv6(Buffer.concat([prefixBytes(cluster), Buffer.alloc(16 - PREFIX_BYTES)]))}/${MESH_PREFIX_LENGTH}`
}

/**
 * A host's /128 in the cluster's prefix: the low 80 bits come from its WireGuard public key
 * and `salt`. A host whose address collides (see {@link collidingHosts}) moves to the next salt.
 */
export function meshAddress (cluster: string, wgPublicKey: string, salt = 0): string {
  if (!Number.isSafeInteger(salt) || salt < 0) throw new RangeError(`mesh address salt must be a non-negative integer, got ${salt}`)
  const id = createHash('sha256').update(`${wgPublicKey}\0${salt}`).digest().subarray(0, 16 - PREFIX_BYTES)
  return formatIpv6(Buffer.concat([prefixBytes(cluster), id]))
}

/** Whether `address` (an IPv6 address, no prefix length) lies in the cluster's mesh prefix. */
export function isMeshAddress (cluster: string, address: string): boolean {
  const bytes = parseIpv6(address)
  return bytes !== null && bytes.subarray(0, PREFIX_BYTES).equals(prefixBytes(cluster))
}

/** A host's claim on a mesh address, as hosts gossip them. */
export interface MeshAddressClaim {
  hostId: string
  publicKey: string
  address: string
}

/**
 * The hosts that must move to their next salt: where claims with different public keys hold
 * the same address, the smallest hostId (by code unit order) keeps it and every other host
 * with a different key moves. Deterministic, so every host computes the same answer from the
 * same table. Sorted.
 */
export function collidingHosts (claims: MeshAddressClaim[]): string[] {
  const byAddress = new Map<string, MeshAddressClaim[]>()
  for (const c of claims) {
    const bytes = parseIpv6(c.address)
    const key = bytes === null ? c.address : formatIpv6(bytes)
    byAddress.set(key, [...(byAddress.get(key) ?? []), c])
  }
  const moving = new Set<string>()
  for (const group of byAddress.values()) {
    if (new Set(group.map(c => c.publicKey)).size < 2) continue
    const keeper = group.reduce((a, b) => b.hostId < a.hostId ? b : a)
    for (const c of group) if (c.publicKey !== keeper.publicKey) moving.add(c.hostId)
  }
  return [...moving].sort()
}
