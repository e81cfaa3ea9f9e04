import { UnknownHostError } from '../errors/errors.js'
import type { Transport } from './transport.js'

/**
 * Resolves the host part of a target (`roost send h2/agent`, a create request's `host`) to a
 * host id: `local`, this host's name or id, a peer's id, name or id prefix (4+ hex digits), or
 * a full 64-digit id not yet met. Peers are those the transport has met and, from gossip,
 * `members` (a host gossip knows of may never have connected to this one). Throws
 * {@link UnknownHostError} when nothing or more than one host matches.
 */
export function resolveHost (host: string, selfId: string, selfName: string, transport: Pick<Transport, 'peers'>, members: ReadonlyArray<{ hostId: string, name?: string }> = []): string {
  if (host === 'local' || host === selfName || host === selfId) return selfId
  const peers: ReadonlyArray<{ hostId: string, name?: string }> = [...transport.peers(), ...members]
  const exact = peers.find(p => p.hostId === host)
  if (exact !== undefined) return exact.hostId
  const candidates = new Set<string>()
  if (selfId.startsWith(host)) candidates.add(selfId)
  for (const p of peers) {
    if (p.hostId === selfId) continue
    if (p.name === host || (host.length >= 4 && p.hostId.startsWith(host))) candidates.add(p.hostId)
  }
  if (candidates.size === 1) return [...candidates][0] as string
  if (candidates.size > 1) throw new UnknownHostError(`'${host}' matches ${candidates.size} hosts; use more of the id`, { host })
  if (/^[0-9a-f]{64}$/.test(host)) return host
  throw new UnknownHostError(`no known host is called '${host}' (try 'roost members')`, { host })
}
