/** One queued broadcast: a membership update (`u`) or a user item such as a row (`x`). */
interface Item {
  kind: 'u' | 'x'
  key: string
  payload: unknown
  size: number
  transmits: number
  dropped: boolean
  round: number
}

/**
 * memberlist's transmit-limited queue: every update is piggybacked on outgoing messages until it
 * has been sent `limit` times; the least-sent go first (newest first among equals), within a byte
 * budget per message. A newer update with the same key replaces the older one.
 */
export class BroadcastQueue {
  private tiers: Item[][] = []
  private readonly byKey = new Map<string, Item>()
  private live = 0
  private round = 0

  /** Queues (or replaces) the broadcast for `key`. */
  push (kind: 'u' | 'x', key: string, payload: unknown, size: number): void {
    const old = this.byKey.get(key)
    if (old !== undefined && !old.dropped) {
      old.dropped = true
      this.live--
    }
    const item: Item = { kind, key, payload, size, transmits: 0, dropped: false, round: -1 }
    this.byKey.set(key, item)
    this.tier(0).push(item)
    this.live++
  }

  /** Broadcasts still to be sent. */
  get length (): number {
    return this.live
  }

  has (key: string): boolean {
    const item = this.byKey.get(key)
    return item !== undefined && !item.dropped
  }

  /**
   * Takes what fits in `budget` bytes, counting one transmission for each; items sent `limit`
   * times are dropped. `first` (e.g. a suspicion about the probe target) goes ahead of the rest.
   */
  take (budget: number, limit: number, first?: string): { u: unknown[], x: unknown[] } {
    const u: unknown[] = []
    const x: unknown[] = []
    let used = 0
    const round = ++this.round
    const emit = (item: Item): void => {
      item.round = round
      ;(item.kind === 'u' ? u : x).push(item.payload)
      used += item.size
      item.transmits++
      if (item.transmits >= limit) {
        item.dropped = true
        this.live--
        if (this.byKey.get(item.key) === item) this.byKey.delete(item.key)
      } else {
        this.tier(item.transmits).push(item)
      }
    }
    if (first !== undefined) {
      const item = this.byKey.get(first)
      if (item !== undefined && !item.dropped && item.size <= budget) {
        this.remove(item)
        emit(item)
      }
    }
    let full = false
    for (let t = 0; t < this.tiers.length && !full; t++) {
      const tier = this.tiers[t] as Item[]
      const keep: Item[] = []
      while (tier.length > 0) {
        const item = tier.pop() as Item
        if (item.dropped || item.transmits !== t) continue
        if (item.round === round) {
          keep.push(item)
          continue
        }
        if (used + item.size > budget) {
          keep.push(item)
          // One that can never fit must not hold back the rest.
          if (item.size > budget) continue
          // Stop at the first item that does not fit: taking is O(items taken), not O(queue).
          full = true
          break
        }
        emit(item)
      }
      for (let i = keep.length - 1; i >= 0; i--) tier.push(keep[i] as Item)
    }
    return { u, x }
  }

  clear (): void {
    this.tiers = []
    this.byKey.clear()
    this.live = 0
  }

  private remove (item: Item): void {
    const tier = this.tiers[item.transmits]
    if (tier === undefined) return
    const i = tier.lastIndexOf(item)
    if (i >= 0) tier.splice(i, 1)
  }

  private tier (t: number): Item[] {
    while (this.tiers.length <= t) this.tiers.push([])
    return this.tiers[t] as Item[]
  }
}
