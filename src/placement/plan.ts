import { rendezvousWeight } from './rendezvous.js'

/** What a placer knows of one host, read from its local replica. */
export interface PlacementHost {
  id: string
  region: string
  /** Only `alive`, uncordoned hosts receive new machines. */
  state: 'alive' | 'suspect' | 'dead' | 'left'
  /** Draining hosts (`roost host drain`) take nothing new. */
  draining: boolean
  cpusFree: number
  memoryFreeMb: number
}

/** What one machine asks of its host. */
export interface PlacementNeed {
  cpus: number
  memoryMb: number
}

export interface PlacementRequest {
  app: string
  count: number
  need: PlacementNeed
  /** Regions to spread over, in order (round-robin); empty: any region. */
  regions: readonly string[]
  /** Hosts already running machines of the app (one entry per machine), for spread. */
  existing: readonly string[]
  /** Among hosts with equally few of the app's machines, this one first (the host the request reached: closest to its caller). */
  prefer?: string
}

/** For each new machine: its region and the hosts to try, best first (a refusal moves to the next). */
export interface PlacementSlot {
  index: number
  region: string | null
  candidates: string[]
}

/**
 * Plans where `count` new machines of an app go: hosts of the slot's region that are alive, not
 * draining and have room; fewest machines of the app first (spread), then most free memory, then
 * the preferred host, then a rendezvous weight of the app (deterministic, and different apps prefer different hosts).
 * Each choice reserves its host's room for the next slot. A slot whose region has no host with
 * room gets no candidates: the caller reports it.
 */
export function planPlacement (hosts: readonly PlacementHost[], req: PlacementRequest): PlacementSlot[] {
  const free = new Map(hosts.map((h) => [h.id, { cpus: h.cpusFree, memoryMb: h.memoryFreeMb }]))
  const perHost = new Map<string, number>()
  for (const id of req.existing) perHost.set(id, (perHost.get(id) ?? 0) + 1)
  const eligible = hosts.filter((h) => h.state === 'alive' && !h.draining)
  const slots: PlacementSlot[] = []
  for (let index = 0; index < req.count; index++) {
    const region = req.regions.length > 0 ? req.regions[index % req.regions.length] ?? null : null
    const fits = eligible.filter((h) => {
      const room = free.get(h.id)
      return (region === null || h.region === region) && room !== undefined &&
        room.cpus >= req.need.cpus && room.memoryMb >= req.need.memoryMb
    })
    const key = req.app
    fits.sort((a, b) => {
      const spread = (perHost.get(a.id) ?? 0) - (perHost.get(b.id) ?? 0)
      if (spread !== 0) return spread
      if (a.id === req.prefer || b.id === req.prefer) return a.id === req.prefer ? -1 : 1
      const mem = (free.get(b.id)?.memoryMb ?? 0) - (free.get(a.id)?.memoryMb ?? 0)
      if (mem !== 0) return mem
      const wa = rendezvousWeight(key, a.id)
      const wb = rendezvousWeight(key, b.id)
      return wa === wb ? 0 : wa > wb ? -1 : 1
    })
    const candidates = fits.map((h) => h.id)
    const chosen = candidates[0]
    if (chosen !== undefined) {
      const room = free.get(chosen)
      if (room !== undefined) {
        room.cpus -= req.need.cpus
        room.memoryMb -= req.need.memoryMb
      }
      perHost.set(chosen, (perHost.get(chosen) ?? 0) + 1)
    }
    slots.push({ index, region, candidates })
  }
  return slots
}
