import type { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'

import { HOSTNAME_PATTERN, MAX_HOSTNAME_LENGTH } from '../../gossip/hostname-pattern.js'

export { HOSTNAME_PATTERN, MAX_HOSTNAME_LENGTH }
const HOSTNAME_RE = new RegExp(HOSTNAME_PATTERN)

/** Lowercase, without a trailing dot: the form names are compared and stored in. */
export function normalizeHostname (name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

/** Whether `name` (already normalized) is a DNS name or a `*.` wildcard one that may key a `certs` row. */
export function isCertHostname (name: string): boolean {
  return name.length > 0 && name.length <= MAX_HOSTNAME_LENGTH && HOSTNAME_RE.test(name)
}

/** The wildcard name that would cover `name` (`a.example.com` → `*.example.com`), or null for a single label. */
export function wildcardOf (name: string): string | null {
  const dot = name.indexOf('.')
  return dot <= 0 || dot === name.length - 1 ? null : `*${name.slice(dot)}`
}

/** The names a certificate is valid for, from its subjectAltName (DNS names lowercased, IPs canonical). */
export interface CertNames {
  dns: string[]
  ip: string[]
}

/** Reads the SAN extension as node:crypto renders it (`DNS:a, IP Address:1.2.3.4`, values with commas quoted). */
export function certNames (cert: X509Certificate): CertNames {
  const out: CertNames = { dns: [], ip: [] }
  const san = cert.subjectAltName
  if (san === undefined) return out
  for (const m of san.matchAll(/(DNS|IP Address):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const raw = m[2] ?? ''
    const value = raw.startsWith('"') ? JSON.parse(raw) as string : raw
    if (m[1] === 'DNS') out.dns.push(normalizeHostname(value))
    else out.ip.push(canonicalIp(value))
  }
  return out
}

/** Whether a certificate with these names serves `hostname` (a wildcard hostname needs the same wildcard SAN). */
export function namesCover (names: CertNames, hostname: string): boolean {
  if (isIP(hostname) !== 0) return names.ip.includes(canonicalIp(hostname))
  const host = normalizeHostname(hostname)
  if (names.dns.includes(host)) return true
  if (host.startsWith('*.')) return false
  const wildcard = wildcardOf(host)
  return wildcard !== null && names.dns.includes(wildcard)
}

/** IPv4 as is; IPv6 as eight lowercase groups without leading zeros, the way OpenSSL prints SANs. */
export function canonicalIp (ip: string): string {
  if (isIP(ip) !== 6) return ip.toLowerCase()
  let text = ip.toLowerCase()
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0')
  return [...headGroups, ...fill, ...tailGroups].map(g => parseInt(g, 16).toString(16)).join(':')
}
