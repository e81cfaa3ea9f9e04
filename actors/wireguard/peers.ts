import { collidingHosts, isMeshAddress } from '../../src/mesh/mesh-address.js'
import { isWgKey } from '../../src/mesh/wg-keys.js'
import type { WgPeerSpec } from '../../src/mesh/wireguard-interface.js'
import type { WireguardRowData } from '../../src/gossip/rows.js'
import type { MeshRoute } from '../../src/transport/mesh-path.js'

/** A gossiped `wireguard` row as the membership actor hands it out. */
export interface WireguardRow {
  key: string
  owner: string
  deleted: boolean
  ownerDead: boolean
  data: Record<string, unknown> | null
}

/** A host this one keeps a tunnel to. */
export interface MeshPeer {
  hostId: string
  row: WireguardRowData
}

export const PEER_KEEPALIVE_S = 15

const ENDPOINT_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/

/**
 * The hosts that should be WireGuard peers: a live owner's own row (a host can only speak for
 * itself: key = owner), a well-formed key and endpoint, an address in this cluster's prefix.
 * Rows reach the replica only from hosts that passed the hello, so a host without the cluster
 * secret never gets here. Dead and departed hosts drop out; they come back with their owner.
 */
export function desiredPeers (rows: readonly WireguardRow[], self: string, cluster: string): MeshPeer[] {
  const out: MeshPeer[] = []
  for (const r of rows) {
    if (r.deleted || r.ownerDead || r.data === null || r.key !== r.owner || r.owner === self) continue
    const d = r.data as Partial<WireguardRowData>
    if (typeof d.publicKey !== 'string' || !isWgKey(d.publicKey)) continue
    if (typeof d.address !== 'string' || !isMeshAddress(cluster, d.address)) continue
    if (typeof d.endpoint !== 'string' || !ENDPOINT_RE.test(d.endpoint)) continue
    if (typeof d.meshPort !== 'number') continue
    out.push({ hostId: r.owner, row: d as WireguardRowData })
  }
  return out.sort((a, b) => a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0)
}

export function peerSpecs (peers: readonly MeshPeer[]): WgPeerSpec[] {
  return peers.map(p => ({ publicKey: p.row.publicKey, endpoint: p.row.endpoint, allowedIps: [`${p.row.address}/128`], keepaliveS: PEER_KEEPALIVE_S }))
}

/** Routes for the mesh path; `handshaken` (public keys with a completed handshake) marks the ones it may dial. */
export function meshRoutes (peers: readonly MeshPeer[], handshaken: ReadonlySet<string>): Map<string, MeshRoute> {
  return new Map(peers.map(p => [p.hostId, { address: p.row.address, port: p.row.meshPort, ready: handshaken.has(p.row.publicKey) }]))
}

/** Whether this host must move to another mesh address: another host with another key claims the same one. */
export function mustMove (peers: readonly MeshPeer[], self: { hostId: string, publicKey: string, address: string }): boolean {
  const claims = [self, ...peers.map(p => ({ hostId: p.hostId, publicKey: p.row.publicKey, address: p.row.address }))]
  return collidingHosts(claims).includes(self.hostId)
}

/** Two hosts with the same public key would share a tunnel: only the smaller host id keeps it. */
export function withoutDuplicateKeys (peers: readonly MeshPeer[], selfKey: string): MeshPeer[] {
  const seen = new Set<string>([selfKey])
  return peers.filter(p => {
    if (seen.has(p.row.publicKey)) return false
    seen.add(p.row.publicKey)
    return true
  })
}
