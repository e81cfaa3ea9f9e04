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

/**
 * Whether this side starts the handshake with a peer both sides just added: the one with the
 * smaller public key. When both initiate at once, each consumes the other's initiation as
 * responder, which overwrites its own; both responses are then refused and the pair waits for
 * the retransmit, REKEY_TIMEOUT (5 s), before a tunnel works.
 */
export function initiatesHandshake (ownPublicKey: string, peerPublicKey: string): boolean {
  return ownPublicKey < peerPublicKey
}

const hex = (base64Key: string): string => Buffer.from(base64Key, 'base64').toString('hex')

function peerLines (p: WgPeerSpec): string[] {
  return [
    `public_key=${hex(p.publicKey)}`,
    `endpoint=${p.endpoint}`,
    `persistent_keepalive_interval=${p.keepaliveS ?? 0}`,
    'replace_allowed_ips=true',
    ...p.allowedIps.map(ip => `allowed_ip=${ip}`)
  ]
}

const body = (lines: string[]): string => lines.length === 0 ? '' : lines.join('\n') + '\n'

/**
 * The body of a UAPI `set=1` (wireguard-go's control protocol; what `wg setconf` sends) that
 * makes the device hold this key, port (0: it picks one) and exactly these peers. It holds the
 * private key: it goes to the root-owned control socket only, never to argv or a file.
 */
export function uapiConfigSet (privateKey: string, listenPort: number, peers: readonly WgPeerSpec[]): string {
  return body([`private_key=${hex(privateKey)}`, `listen_port=${listenPort}`, 'replace_peers=true', ...peers.flatMap(peerLines)])
}

/** The `set=1` body that turns peer set `from` into `to` (added and changed peers in full, removed ones with `remove`), or '' when nothing changes. */
export function uapiPeersSet (from: readonly WgPeerSpec[], to: readonly WgPeerSpec[]): string {
  const before = new Map(from.map(p => [p.publicKey, p]))
  const after = new Set(to.map(p => p.publicKey))
  const lines: string[] = []
  for (const p of to) {
    const old = before.get(p.publicKey)
    if (old === undefined || !samePeer(old, p)) lines.push(...peerLines(p))
  }
  for (const key of before.keys()) if (!after.has(key)) lines.push(`public_key=${hex(key)}`, 'remove=true')
  return body(lines)
}

/**
 * The `set=1` body that removes these peers and adds them again as they are: a new peer has no
 * handshake history, so wireguard-go (turning its keepalive on) starts a handshake at once,
 * where the old one would wait out REKEY_TIMEOUT (5 s) after an initiation that got no answer.
 */
export function uapiRecreate (peers: readonly WgPeerSpec[]): string {
  return body(peers.flatMap(p => [`public_key=${hex(p.publicKey)}`, 'remove=true', ...peerLines(p)]))
}

/**
 * Two `set=1` bodies that make wireguard-go handshake now with every peer: it sends a keepalive
 * (with no session: a handshake initiation) when a peer's persistent keepalive goes from off to
 * on while the interface is up. Peers without one are switched on then off; peers with one are
 * switched off then back to their interval (configuring them before the link was up sent
 * nothing). Without this, a freshly (re)started side waits for the other side's rekey timeout
 * (~15 s) before traffic flows again.
 */
export function uapiPrimeSets (peers: readonly WgPeerSpec[]): [string, string] | null {
  if (peers.length === 0) return null
  const flip = (p: WgPeerSpec, on: boolean): string[] => [`public_key=${hex(p.publicKey)}`, `persistent_keepalive_interval=${on ? (p.keepaliveS ?? 0) === 0 ? 1 : 0 : p.keepaliveS ?? 0}`]
  return [body(peers.flatMap(p => flip(p, true))), body(peers.flatMap(p => flip(p, false)))]
}
