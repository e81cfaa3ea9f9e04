import { MeshError } from '../errors/errors.js'
import { isWgKey } from './wg-keys.js'

/** A peer as the mesh wants it. */
export interface WgPeerSpec {
  publicKey: string
  /** `ip:port` or `[v6]:port`. */
  endpoint: string
  allowedIps: string[]
  /** Persistent keepalive in seconds; absent or 0: off. */
  keepaliveS?: number
}

const ENDPOINT_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/
const CIDR_RE = /^[0-9A-Fa-f:.]+\/\d{1,3}$/

/** Checks a peer set (what reaches `wg`'s argv must be exactly a key, an endpoint, CIDRs); throws a MeshError. */
export function validatePeers (peers: WgPeerSpec[]): void {
  const seen = new Set<string>()
  for (const p of peers) {
    if (!isWgKey(p.publicKey)) throw new MeshError(`peer public key is not a WireGuard key: ${JSON.stringify(p.publicKey)}`)
    if (seen.has(p.publicKey)) throw new MeshError(`peer ${p.publicKey} is listed twice`)
    seen.add(p.publicKey)
    if (!ENDPOINT_RE.test(p.endpoint)) throw new MeshError(`peer ${p.publicKey}: endpoint must be ip:port or [v6]:port, got ${JSON.stringify(p.endpoint)}`)
    for (const cidr of p.allowedIps) {
      if (!CIDR_RE.test(cidr)) throw new MeshError(`peer ${p.publicKey}: allowed IP must be a CIDR, got ${JSON.stringify(cidr)}`)
    }
    const k = p.keepaliveS ?? 0
    if (!Number.isInteger(k) || k < 0 || k > 65535) throw new MeshError(`peer ${p.publicKey}: keepalive must be 0–65535 s, got ${k}`)
  }
}

function samePeer (a: WgPeerSpec, b: WgPeerSpec): boolean {
  return a.endpoint === b.endpoint && (a.keepaliveS ?? 0) === (b.keepaliveS ?? 0) &&
    a.allowedIps.length === b.allowedIps.length && a.allowedIps.every((ip, i) => ip === b.allowedIps[i])
}

function peerArgs (p: WgPeerSpec): string[] {
  return ['peer', p.publicKey, 'endpoint', p.endpoint, 'persistent-keepalive', String(p.keepaliveS ?? 0), 'allowed-ips', p.allowedIps.join(',')]
}

/**
 * The `wg set IF …` arguments that turn peer set `from` into `to` in one call (added and
 * changed peers in full, removed ones with `remove`), or [] when nothing changes.
 */
export function peerDiffArgs (from: WgPeerSpec[], to: WgPeerSpec[]): string[] {
  const before = new Map(from.map(p => [p.publicKey, p]))
  const after = new Set(to.map(p => p.publicKey))
  const args: string[] = []
  for (const p of to) {
    const old = before.get(p.publicKey)
    if (old === undefined || !samePeer(old, p)) args.push(...peerArgs(p))
  }
  for (const key of before.keys()) if (!after.has(key)) args.push('peer', key, 'remove')
  return args
}

/** A `wg setconf` configuration: the key, the port (0: wg picks) and every peer. Holds the private key. */
export function renderConfig (privateKey: string, listenPort: number, peers: WgPeerSpec[]): string {
  const lines = ['[Interface]', `PrivateKey = ${privateKey}`, `ListenPort = ${listenPort}`]
  for (const p of peers) {
    lines.push('', '[Peer]', `PublicKey = ${p.publicKey}`, `Endpoint = ${p.endpoint}`)
    if (p.allowedIps.length > 0) lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`)
    if ((p.keepaliveS ?? 0) > 0) lines.push(`PersistentKeepalive = ${p.keepaliveS}`)
  }
  return lines.join('\n') + '\n'
}

/**
 * `wg set` argument lists that make wireguard-go handshake now with every peer: wireguard-go
 * sends a keepalive (with no session: a handshake initiation) when a peer's persistent keepalive
 * goes from off to on while the interface is up. Peers without one are switched on then off;
 * peers with one are switched off then back to their interval (configuring them before the link
 * was up sent nothing). Without this, a freshly (re)started side waits for the other side's rekey
 * timeout (~15 s) before traffic flows again.
 */
export function primeHandshakeArgs (peers: WgPeerSpec[]): [string[], string[]] | null {
  if (peers.length === 0) return null
  const first = peers.flatMap(p => ['peer', p.publicKey, 'persistent-keepalive', (p.keepaliveS ?? 0) === 0 ? '1' : '0'])
  const second = peers.flatMap(p => ['peer', p.publicKey, 'persistent-keepalive', String(p.keepaliveS ?? 0)])
  return [first, second]
}
