import { needOf, type GuestSize } from './capacity.js'
import { currentMachineRows, generationOf, machineIdOf, type MachineRowLike } from './machine-rows.js'
import { rendezvousRank } from './rendezvous.js'

/** A machine's failover choice: its config's, else `replace` for restart policy `always`, else `none`. */
export function failoverPolicyOf (config: { failover?: 'replace' | 'none', restart?: { policy: string } }): 'replace' | 'none' {
  return config.failover ?? (config.restart?.policy === 'always' ? 'replace' : 'none')
}

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

/** A host as failover sees it: from its `hosts` row and this host's membership view. */
export interface FailoverHost {
  id: string
  region: string
  state: MemberState
  draining: boolean
  cpusFree: number
  memoryFreeMb: number
  /** When this host last saw the member change state (ms). */
  changedAt: number
  /** Since when this host has seen it suspect or dead (0 or absent while alive). */
  downSince?: number
}

/** A machine this host should re-create, once `dueAt` has passed and no newer copy appeared. */
export interface Replacement {
  id: string
  app: string
  name: string
  region: string
  /** The generation of the new copy. */
  generation: number
  config: Record<string, unknown>
  /** The dead host the machine was on. */
  from: string
  dueAt: number
}

/** A local copy that a newer generation elsewhere has superseded: destroy it, never serve it. */
export interface StaleCopy {
  id: string
  generation: number
  newerOwner: string
  newerGeneration: number
}

export interface FailoverInit {
  self: string
  /** How long the k-th host in a machine's rendezvous order waits before acting in its stead. */
  stepMs: number
  /**
   * How long this host's view of the region must have been unchanged before it acts: a host cut
   * off with a minority sees its peers fall one by one, and may count one as alive only because
   * it has not probed it yet (default 0). A dead host's fall counts from its first suspicion,
   * its death confirming it; the window is never shorter than one probe round of the region.
   */
  stableMs?: number
  /** The gossip's probe interval: a probe round of n hosts takes n of them (default 0). */
  probeIntervalMs?: number
  /**
   * Per region, since when this host has seen its majority without a break (absent: it does not
   * now). A death it recorded before then was seen from a minority, where the majority's hosts
   * all look dead: such a host is given `rejoinMs` after the majority came back to reappear.
   */
  majoritySince?: ReadonlyMap<string, number>
  /** How long a host seen dying from a minority has to come back once the majority is seen (default 0). */
  rejoinMs?: number
}

/** When `h` last changed for failover's purposes: a dead host from its first suspicion, else its last change. */
function changedAtOf (h: FailoverHost): number {
  return h.state === 'dead' && h.downSince !== undefined && h.downSince > 0 ? h.downSince : h.changedAt
}

/** Whether `self` sees a strict majority of its region's known hosts (left ones excluded) alive. */
export function seesMajority (hosts: readonly FailoverHost[], region: string): boolean {
  const inRegion = hosts.filter(h => h.region === region && h.state !== 'left')
  const alive = inRegion.filter(h => h.state === 'alive').length
  return inRegion.length > 0 && alive * 2 > inRegion.length
}

/**
 * What failover asks of this host now, from its replica alone (no leader): for every machine
 * whose current generation is on a dead host and asks to be replaced (`failover: replace`), the
 * alive, undrained hosts of its region with room rank by rendezvous hashing of `<id>:<next
 * generation>`; the first acts at once, the k-th only after k steps (if the ones before it could
 * not). Nobody acts for a region where they do not see a majority alive, nor before their view
 * of the region has been still for `stableMs`: the minority side of a partition must not
 * re-create what the majority side may still be running. Nor does a host that comes back from
 * a minority act on the deaths it saw there before their hosts have had `rejoinMs` to reappear:
 * a healed partition is rejoined one connection at a time, and the replacements the majority
 * made are owned by hosts the returning side still holds dead.
 */
export function planFailover (init: FailoverInit, hosts: readonly FailoverHost[], machineRows: readonly MachineRowLike[]): { replacements: Replacement[], stale: StaleCopy[], blocked: string[] } {
  const byId = new Map(hosts.map(h => [h.id, h]))
  const lastChange = new Map<string, number>()
  const regionSize = new Map<string, number>()
  for (const h of hosts) {
    lastChange.set(h.region, Math.max(lastChange.get(h.region) ?? 0, changedAtOf(h)))
    regionSize.set(h.region, (regionSize.get(h.region) ?? 0) + 1)
  }
  const current = currentMachineRows(machineRows)
  const replacements: Replacement[] = []
  const blocked: string[] = []
  for (const row of current) {
    const data = row.data as Record<string, unknown>
    if (data.failover !== 'replace') continue
    if (data.state === 'destroyed' || data.state === 'destroying') continue
    const owner = byId.get(row.owner)
    if (owner === undefined ? !row.ownerDead : owner.state !== 'dead') continue
    const region = typeof data.region === 'string' ? data.region : owner?.region ?? ''
    const id = machineIdOf(row)
    if (!seesMajority(hosts, region)) { blocked.push(id); continue }
    const config = data.config
    if (typeof config !== 'object' || config === null) continue
    const need = needOf((config as { guest?: GuestSize }).guest)
    const generation = generationOf(data) + 1
    const candidates = hosts.filter(h => h.region === region && h.state === 'alive' && !h.draining &&
      h.cpusFree >= need.cpus && h.memoryFreeMb >= need.memoryMb).map(h => h.id)
    const rank = rendezvousRank(`${id}:${generation}`, candidates).indexOf(init.self)
    if (rank < 0) continue
    const settled = (lastChange.get(region) ?? 0) + Math.max(init.stableMs ?? 0, (regionSize.get(region) ?? 0) * (init.probeIntervalMs ?? 0))
    const since = init.majoritySince?.get(region)
    const fell = owner === undefined ? 0 : changedAtOf(owner)
    const rejoined = since !== undefined && fell < since ? since + (init.rejoinMs ?? 0) : 0
    replacements.push({
      id,
      app: typeof data.app === 'string' ? data.app : '',
      name: typeof data.name === 'string' ? data.name : id,
      region,
      generation,
      config: config as Record<string, unknown>,
      from: row.owner,
      dueAt: Math.max((owner?.changedAt ?? 0) + rank * init.stepMs, settled, rejoined)
    })
  }
  const stale: StaleCopy[] = []
  const currentById = new Map(current.map(r => [machineIdOf(r), r]))
  for (const row of machineRows) {
    if (row.owner !== init.self || row.deleted || row.data === null) continue
    const id = machineIdOf(row)
    const cur = currentById.get(id)
    if (cur === undefined || cur === row || cur.owner === init.self) continue
    stale.push({ id, generation: generationOf(row.data), newerOwner: cur.owner, newerGeneration: generationOf(cur.data as Record<string, unknown>) })
  }
  return { replacements, stale, blocked }
}
