import type { FailoverHost, MemberState } from './failover-plan.js'

/** A `hosts` row as the replica hands it out. */
export interface HostRowLike {
  owner: string
  deleted: boolean
  ownerDead: boolean
  data: Record<string, unknown> | null
}

/** A member as this host's gossip sees it. */
export interface MemberLike {
  hostId: string
  state: MemberState
  changedAt: number
  downSince?: number
}

/**
 * The hosts placement and failover choose among: each live `hosts` row with its owner's state as
 * this host's membership sees it (this host is always alive). A row whose owner membership does
 * not list is `unknown` (its row's `ownerDead` flag wins when set).
 */
export function hostViews (rows: readonly HostRowLike[], members: readonly MemberLike[], self: string, unknown: 'alive' | 'dead'): FailoverHost[] {
  const byId = new Map(members.map(m => [m.hostId, m]))
  const out: FailoverHost[] = []
  for (const r of rows) {
    if (r.deleted || r.data === null) continue
    const d = r.data
    const m = byId.get(r.owner)
    out.push({
      id: r.owner,
      region: typeof d.region === 'string' ? d.region : '',
      state: r.owner === self ? 'alive' : m?.state ?? (r.ownerDead ? 'dead' : unknown),
      draining: d.draining === true,
      cpusFree: typeof d.cpusFree === 'number' ? d.cpusFree : 0,
      memoryFreeMb: typeof d.memoryFreeMb === 'number' ? d.memoryFreeMb : 0,
      changedAt: m?.changedAt ?? 0,
      downSince: m?.downSince ?? 0
    })
  }
  return out
}
