/** Where a host stands with its own replaceable machines. */
export type FenceStage = 'serving' | 'unroutable' | 'stopped'

export interface FenceInit {
  /** Without a majority this long, the host stops routing to its replaceable machines. */
  leaseMs: number
  /** …and this long, it stops them (the majority side may be re-creating them by now). */
  graceMs: number
}

export interface Fence {
  /** The stage after seeing (or not) a majority at `now`. */
  update: (now: number, majority: boolean) => FenceStage
  readonly stage: FenceStage
  /** Since when the majority has been out of sight (null while it is seen). */
  readonly lostSince: number | null
}

/**
 * Self-fencing of a host that loses sight of its region's majority (Akka's split-brain resolver
 * "down the minority", with Kleppmann's fencing tokens being the machines' generations): first
 * its replaceable machines take no traffic, then they stop. The survivors only replace a
 * machine after its host is declared dead, which takes longer than the lease, so a partitioned
 * host has fenced itself before its copies are re-created elsewhere. Seeing a majority again
 * ends the fence at once.
 */
export function createFence (init: FenceInit): Fence {
  if (!(init.graceMs >= init.leaseMs)) throw new RangeError('the grace must not be shorter than the lease')
  let lostSince: number | null = null
  let stage: FenceStage = 'serving'
  return {
    update (now, majority) {
      if (majority) {
        lostSince = null
        stage = 'serving'
        return stage
      }
      lostSince ??= now
      const lost = now - lostSince
      stage = lost >= init.graceMs ? 'stopped' : lost >= init.leaseMs ? 'unroutable' : 'serving'
      return stage
    },
    get stage () { return stage },
    get lostSince () { return lostSince }
  }
}
