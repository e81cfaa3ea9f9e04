import type { RoostEvent } from '../events/event-kinds.js'

/** What one `agent.events` reply carries (actors/agent/messages.ts). */
export interface EventsPage {
  hostId: string
  name: string
  lastSeq: number
  firstSeq: number
  events: RoostEvent[]
}

/** Asks one host (`local`, a name or an id) for its events after `since`. */
export type FetchEvents = (target: string, since: number, limit: number) => Promise<EventsPage>

export interface EventsFeedInit {
  /** Events per `agent.events` ask. */
  pageSize: number
  /** Asks per host per `poll` at most (a long backlog is read over several polls). */
  maxPages: number
  /** Events after this seq, of every host. */
  since: number
  /** Skip a host that does not answer (`--all`); otherwise its error ends the poll. */
  tolerant: boolean
}

export interface EventsFeedComponents {
  fetch: FetchEvents
  /** Told of what a reader should know but is no event: a gap, a host that did not answer. */
  warn: (line: string) => void
}

/**
 * Reads the event streams of some hosts from their last-seen seqs on: each `poll` returns what
 * is new, merged by time (then host, then seq). When tolerant, a host that does not answer is
 * skipped this time (and said once); its turn comes at the next poll.
 */
export interface EventsFeed {
  poll: (targets: readonly string[]) => Promise<RoostEvent[]>
}

export function createEventsFeed (init: EventsFeedInit, components: EventsFeedComponents): EventsFeed {
  const cursors = new Map<string, number>()
  const failing = new Set<string>()

  const readHost = async (target: string): Promise<RoostEvent[]> => {
    let since = cursors.get(target) ?? init.since
    const out: RoostEvent[] = []
    for (let page = 0; page < init.maxPages; page++) {
      const r = await components.fetch(target, since, init.pageSize)
      // The host's stream began again (its events were wiped): read it from its start.
      if (r.lastSeq < since) since = 0
      if (r.firstSeq > since + 1 && (since > 0 || cursors.has(target))) components.warn(`${r.name}: events ${since + 1}-${r.firstSeq - 1} are no longer kept`)
      out.push(...r.events)
      const last = r.events.at(-1)
      if (last !== undefined) since = last.seq
      cursors.set(target, since)
      if (r.events.length < init.pageSize || since >= r.lastSeq) break
    }
    return out
  }

  return {
    async poll (targets) {
      const batches = await Promise.all(targets.map(async target => {
        try {
          const events = await readHost(target)
          if (failing.delete(target)) components.warn(`${target}: answering again`)
          return events
        } catch (err) {
          if (!init.tolerant) throw err
          if (!failing.has(target)) components.warn(`${target}: ${(err as Error).message}`)
          failing.add(target)
          return []
        }
      }))
      return batches.flat().sort((a, b) => a.at - b.at || a.host.localeCompare(b.host) || a.seq - b.seq)
    }
  }
}

/** One line for people: `2026-01-02T03:04:05.678Z  h1  #12  host.dead     h2 is dead (was suspect)`. */
export function formatEvent (e: RoostEvent): string {
  return `${new Date(e.at).toISOString()}  ${e.host}  #${e.seq}  ${e.kind.padEnd(13)}  ${e.message}`
}
