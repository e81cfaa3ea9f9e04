/** A request or connection parked until a machine can take it. */
export interface Waiter {
  app: string
  deadline: number
  /** Tries again; true when it went ahead (or gave up for another reason) and can leave the queue. */
  retry: () => boolean
  /** The deadline passed. */
  expire: () => void
}

/**
 * Requests waiting for capacity (every machine at its hard limit) or for an autostarted
 * machine, per app, first come first served. They are retried when capacity is released or
 * the routes change, and expired by the sweeper.
 */
export interface Waiters {
  park: (w: Waiter) => void
  remove: (w: Waiter) => void
  /** Retries the app's waiters in order until one cannot go ahead. */
  wake: (app: string) => void
  wakeAll: () => void
  sweep: (now: number) => void
  size: () => number
}

export function createWaiters (): Waiters {
  const byApp = new Map<string, Waiter[]>()
  /**
   * Only the waiters parked when the wake began are retried: one that goes ahead may be parked
   * again at once (its dispatch still finds nothing it may use, e.g. every machine it could reach
   * excluded after failed connects) as a new waiter at the end of the list, and retrying that one
   * in the same wake looped forever, holding the data plane's thread.
   */
  const wake = (app: string): void => {
    const list = byApp.get(app)
    if (list === undefined) return
    for (let left = list.length; left > 0 && list.length > 0; left--) {
      const w = list[0] as Waiter
      if (!w.retry()) break
      if (list[0] === w) list.shift()
      else {
        const i = list.indexOf(w)
        if (i >= 0) list.splice(i, 1)
      }
    }
    if (list.length === 0 && byApp.get(app) === list) byApp.delete(app)
  }
  return {
    park (w) {
      const list = byApp.get(w.app)
      if (list === undefined) byApp.set(w.app, [w])
      else list.push(w)
    },
    remove (w) {
      const list = byApp.get(w.app)
      if (list === undefined) return
      const i = list.indexOf(w)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) byApp.delete(w.app)
    },
    wake,
    wakeAll () { for (const app of [...byApp.keys()]) wake(app) },
    sweep (now) {
      for (const [app, list] of [...byApp]) {
        const keep = list.filter(w => {
          if (w.deadline > now) return true
          w.expire()
          return false
        })
        if (keep.length === 0) byApp.delete(app)
        else byApp.set(app, keep)
      }
    },
    size: () => { let n = 0; for (const l of byApp.values()) n += l.length; return n }
  }
}
