/**
 * SWIM + Lifeguard timing. All durations in ms. `lan` is tuned for sub-millisecond RTTs and
 * aims at ~1.5 s from a host's death to every host marking it dead at 1,000 hosts; `wan`
 * tolerates 100–300 ms RTTs and lossy links at the price of slower detection.
 */
export interface SwimConfig {
  /** Time between probes of one member by this host (scaled by local health). */
  probeIntervalMs: number
  /** Wait for a direct ack before asking others to probe (scaled by local health). */
  probeTimeoutMs: number
  /** Members asked to probe indirectly when the direct probe fails. */
  indirectChecks: number
  /** Suspicion timeout floor = suspicionMult × log10(max(N, 10)) × probeIntervalMs. */
  suspicionMult: number
  /** Suspicion starts at floor × this and shrinks toward the floor as others confirm (Lifeguard). */
  suspicionMaxTimeoutMult: number
  /** Independent confirmations after which the suspicion timeout is at its floor. */
  suspicionConfirmations: number
  /** Time between gossip rounds (only when there is something to spread). */
  gossipIntervalMs: number
  /** Members each gossip round sends to. */
  gossipFanout: number
  /** An update is piggybacked retransmitMult × ceil(log10(N + 1)) times. */
  retransmitMult: number
  /** Byte budget for updates piggybacked on one message. */
  maxPiggybackBytes: number
  /** Full membership exchange with a random member (scaled up for large clusters). */
  pushPullIntervalMs: number
  /** Upper bound of the local health multiplier (Lifeguard awareness). */
  maxLocalHealth: number
  /** How long dead members are kept (and still gossiped about) before being forgotten. */
  deadRetentionMs: number
  /** Time between attempts to reach one dead member with a full sync (heals partitions). */
  reconnectIntervalMs: number
}

export const LAN_PROFILE: SwimConfig = {
  probeIntervalMs: 100,
  probeTimeoutMs: 40,
  indirectChecks: 3,
  suspicionMult: 2,
  suspicionMaxTimeoutMult: 4,
  suspicionConfirmations: 3,
  gossipIntervalMs: 30,
  gossipFanout: 4,
  retransmitMult: 6,
  maxPiggybackBytes: 1200,
  pushPullIntervalMs: 30_000,
  maxLocalHealth: 8,
  deadRetentionMs: 60_000,
  reconnectIntervalMs: 1_000
}

export const WAN_PROFILE: SwimConfig = {
  probeIntervalMs: 1_000,
  probeTimeoutMs: 600,
  indirectChecks: 4,
  suspicionMult: 5,
  suspicionMaxTimeoutMult: 6,
  suspicionConfirmations: 4,
  gossipIntervalMs: 200,
  gossipFanout: 4,
  retransmitMult: 5,
  maxPiggybackBytes: 1200,
  pushPullIntervalMs: 60_000,
  maxLocalHealth: 8,
  deadRetentionMs: 10 * 60_000,
  reconnectIntervalMs: 10_000
}

export const PROFILES = { lan: LAN_PROFILE, wan: WAN_PROFILE } as const
export type ProfileName = keyof typeof PROFILES

export function resolveProfile (profile: ProfileName | Partial<SwimConfig> | undefined): SwimConfig {
  if (profile === undefined) return LAN_PROFILE
  if (typeof profile === 'string') return PROFILES[profile]
  return { ...LAN_PROFILE, ...profile }
}

/** Suspicion timeout bounds for a cluster of n members. */
export function suspicionBounds (cfg: SwimConfig, n: number): { minMs: number, maxMs: number } {
  const minMs = cfg.suspicionMult * Math.log10(Math.max(n, 10)) * cfg.probeIntervalMs
  return { minMs, maxMs: minMs * cfg.suspicionMaxTimeoutMult }
}

/** How many times an update is retransmitted in a cluster of n. */
export function retransmitLimit (cfg: SwimConfig, n: number): number {
  return cfg.retransmitMult * Math.ceil(Math.log10(n + 1))
}

/** memberlist's push-pull scaling: slower full syncs as the cluster grows past 32. */
export function pushPullInterval (cfg: SwimConfig, n: number): number {
  const mult = n <= 32 ? 1 : Math.ceil(Math.log2(n) - Math.log2(32)) + 1
  return cfg.pushPullIntervalMs * mult
}
