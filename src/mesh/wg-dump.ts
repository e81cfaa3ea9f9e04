import { MeshError } from '../errors/errors.js'

/** One peer as `wg show IF dump` reports it. */
export interface WgPeerStatus {
  publicKey: string
  /** `ip:port` or `[v6]:port`; null before the peer's endpoint is known. */
  endpoint: string | null
  allowedIps: string[]
  /** Unix seconds of the latest handshake; 0 when none happened. */
  latestHandshake: number
  rxBytes: number
  txBytes: number
  /** Persistent keepalive interval; null when off. */
  keepaliveS: number | null
}

/** An interface as `wg show IF dump` reports it (without its private key). */
export interface WgInterfaceStatus {
  /** Empty while the interface has no private key. */
  publicKey: string
  listenPort: number
  peers: WgPeerStatus[]
}

const NONE = '(none)'

// Lines are never echoed into errors: they carry the private key and preshared keys.
function malformed (why: string, line: number): MeshError {
  return new MeshError(`malformed wg dump, line ${line + 1}: ${why}`, { line: line + 1 })
}

function count (field: string, what: string, line: number): number {
  if (!/^\d+$/.test(field)) throw malformed(`${what} is not a number`, line)
  return Number(field)
}

/**
 * Parses `wg show IF dump` (one interface): the interface line (private key, public key,
 * listen port, fwmark) then one line per peer (public key, preshared key, endpoint,
 * allowed IPs, latest handshake, rx, tx, persistent keepalive), tab-separated.
 */
export function parseWgDump (text: string): WgInterfaceStatus {
  const lines = text.split('\n').filter(l => l.trim() !== '')
  const head = lines[0]
  if (head === undefined) throw new MeshError('malformed wg dump: empty', { line: 0 })
  const f = head.split('\t')
  if (f.length !== 4) throw malformed(`interface line has ${f.length} fields, not 4`, 0)
  const publicKey = f[1] === NONE ? '' : f[1]!
  if (publicKey !== '' && !/^[A-Za-z0-9+/]{43}=$/.test(publicKey)) throw malformed('public key is not a key', 0)
  const listenPort = count(f[2]!, 'listen port', 0)
  const peers = lines.slice(1).map((text, i) => {
    const line = i + 1
    const p = text.split('\t')
    if (p.length !== 8) throw malformed(`peer line has ${p.length} fields, not 8`, line)
    const [key, , endpoint, allowed, handshake, rx, tx, keepalive] = p as [string, string, string, string, string, string, string, string]
    if (!/^[A-Za-z0-9+/]{43}=$/.test(key)) throw malformed('peer public key is not a key', line)
    return {
      publicKey: key,
      endpoint: endpoint === NONE ? null : endpoint,
      allowedIps: allowed === NONE || allowed === '' ? [] : allowed.split(','),
      latestHandshake: count(handshake, 'latest handshake', line),
      rxBytes: count(rx, 'rx bytes', line),
      txBytes: count(tx, 'tx bytes', line),
      keepaliveS: keepalive === 'off' ? null : count(keepalive, 'keepalive', line)
    }
  })
  return { publicKey, listenPort, peers }
}
