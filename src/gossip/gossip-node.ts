import { Type, type Static } from '@sinclair/typebox'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import type { Replica } from './replica.js'
import { toRow, type Row, type TableName } from './rows.js'
import { createSwim, type MemberInfo, type MemberListener, type Swim } from './swim.js'
import type { ProfileName, SwimConfig } from './swim-config.js'
import type { MemberMeta, SwimMessage } from './swim-messages.js'

const Key = Type.Tuple([Type.String({ maxLength: 32 }), Type.String({ maxLength: 256 })])

/**
 * Most rows in one `ae-rows` message. Each row costs its receiver a signature check (~40 µs) on
 * the actors' thread, so a message of rows is bounded in CPU before it is read: 64 rows are a few
 * milliseconds; the sender splits a larger push.
 */
export const AE_ROWS_PER_MESSAGE = 64
/** A sender also closes an `ae-rows` message at this many bytes of rows, well under the frame limit. */
export const AE_ROWS_MESSAGE_BYTES = 256 * 1024

/** Anti-entropy messages: digest → differing buckets' entries → rows pushed and pulled. */
export const AE_SCHEMAS = {
  'ae-digest': Type.Object({ digest: Type.Array(Type.Integer(), { maxItems: 4096 }) }),
  'ae-entries': Type.Object({
    buckets: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 4096 }),
    entries: Type.Array(Type.Tuple([Type.String({ maxLength: 32 }), Type.String({ maxLength: 256 }), Type.Number(), Type.String({ maxLength: 64 })]), { maxItems: 200_000 })
  }),
  'ae-want': Type.Object({ keys: Type.Array(Key, { maxItems: 200_000 }) }),
  'ae-rows': Type.Object({ rows: Type.Array(Type.Unknown(), { maxItems: AE_ROWS_PER_MESSAGE }) })
} as const

export type AntiEntropyMessage =
  | ({ t: 'ae-digest' } & Static<typeof AE_SCHEMAS['ae-digest']>)
  | ({ t: 'ae-entries' } & Static<typeof AE_SCHEMAS['ae-entries']>)
  | ({ t: 'ae-want' } & Static<typeof AE_SCHEMAS['ae-want']>)
  | ({ t: 'ae-rows' } & Static<typeof AE_SCHEMAS['ae-rows']>)

/** Everything gossip sends between hosts. */
export type GossipMessage = SwimMessage | AntiEntropyMessage

/** Default time between anti-entropy rounds with one random member. */
export const DEFAULT_ANTI_ENTROPY_INTERVAL_MS = 2_000
/**
 * The first rounds that reach a member come after these waits instead: a host that joins after
 * rows were written missed their broadcast, and a round is all it has to learn them (with 10
 * hosts starting together, a late joiner waited 1–3 s for its tunnel peers' rows).
 */
export const STARTUP_ANTI_ENTROPY_MS = [100, 250, 500, 1_000]

export interface GossipNodeInit {
  id: string
  meta: MemberMeta
  profile?: ProfileName | Partial<SwimConfig>
  incarnation?: number
  antiEntropyIntervalMs?: number
  /** Waits before the first rounds that reach a member (default STARTUP_ANTI_ENTROPY_MS); then antiEntropyIntervalMs. */
  startupAntiEntropyMs?: number[]
}

export interface GossipNodeComponents {
  clock: Clock
  random: () => number
  send: (to: string, msg: GossipMessage) => void
  replica: Replica
  /** Size in bytes of a row on the wire, for the piggyback budget. */
  sizeOf: (row: Row) => number
  /** Frames from a host that reached this process so far (SwimComponents.framesFrom). */
  framesFrom?: (host: string) => number
  logger?: Logger
}

/**
 * One host's gossip: SWIM membership, plus the replicated tables spread by piggybacked
 * broadcast at once and repaired by periodic anti-entropy with a random member. Rows of members
 * declared dead are marked so in the replica; they come back to life when the member does.
 */
export interface GossipNode {
  readonly id: string
  readonly swim: Swim
  readonly replica: Replica
  start: () => void
  stop: () => void
  join: (seeds: string[]) => void
  leave: () => void
  receive: (from: string, msg: GossipMessage) => void
  members: () => MemberInfo[]
  onMemberChange: (cb: MemberListener) => void
  /** Writes a row this host owns and spreads it. */
  write: (table: TableName, key: string, data: Record<string, unknown>) => Row
  delete: (table: TableName, key: string) => Row
  /** One anti-entropy round with `peer` (or a random live member). */
  syncWith: (peer?: string) => void
  /** When a peer's anti-entropy digest last equalled this replica's (clock ms; undefined: never yet). */
  lastConverged: () => number | undefined
}

export function createGossipNode (init: GossipNodeInit, components: GossipNodeComponents): GossipNode {
  const { clock, random, send, replica, sizeOf } = components
  const log = components.logger?.child({ component: 'gossip' })
  const swimInit = { id: init.id, meta: init.meta, ...(init.profile === undefined ? {} : { profile: init.profile }), ...(init.incarnation === undefined ? {} : { incarnation: init.incarnation }) }
  const swim = createSwim(swimInit, { clock, random, send, ...(components.framesFrom === undefined ? {} : { framesFrom: components.framesFrom }), ...(components.logger === undefined ? {} : { logger: components.logger }) })
  const aeInterval = init.antiEntropyIntervalMs ?? DEFAULT_ANTI_ENTROPY_INTERVAL_MS
  const startupRounds = init.startupAntiEntropyMs ?? STARTUP_ANTI_ENTROPY_MS
  /** Startup rounds that reached a member so far. */
  let startupDone = 0
  let aeTimer: unknown
  let running = false
  let unsubscribe: (() => void) | undefined
  let convergedAt: number | undefined

  const spread = (stored: Row): void => {
    const row = toRow(stored)
    swim.broadcast(`r:${row.table}:${row.key}`, row, sizeOf(row))
  }

  swim.onUserItems((from, items) => {
    const { accepted } = replica.merge(items, from)
    for (const row of accepted) spread(row)
  })

  swim.onChange((m, previous) => {
    if (m.state === 'dead' || m.state === 'left') replica.markOwnerDead(m.id)
    else if (m.state === 'alive' && (previous === 'dead' || previous === 'left')) replica.markOwnerAlive(m.id)
  })

  const sendRows = (to: string, rows: Row[]): void => {
    let part: Row[] = []
    let bytes = 0
    for (const row of rows) {
      const n = sizeOf(row)
      if (part.length === AE_ROWS_PER_MESSAGE || (part.length > 0 && bytes + n > AE_ROWS_MESSAGE_BYTES)) {
        send(to, { t: 'ae-rows', rows: part })
        part = []
        bytes = 0
      }
      part.push(row)
      bytes += n
    }
    if (part.length > 0) send(to, { t: 'ae-rows', rows: part })
  }

  const syncWith = (peer?: string): boolean => {
    const target = peer ?? swim.randomLiveMember()
    if (target === undefined) return false
    send(target, { t: 'ae-digest', digest: replica.digest() })
    return true
  }

  const nextRoundMs = (): number => startupRounds[startupDone] ?? aeInterval

  const antiEntropy = (): void => {
    if (syncWith() && startupDone < startupRounds.length) startupDone++
    aeTimer = clock.setTimeout(antiEntropy, nextRoundMs())
  }

  const receiveAe = (from: string, msg: AntiEntropyMessage): void => {
    switch (msg.t) {
      case 'ae-digest': {
        const mine = replica.digest()
        if (msg.digest.length !== mine.length) {
          log?.warn({ host: from, buckets: msg.digest.length, ours: mine.length }, 'anti-entropy digest of another shape ignored')
          return
        }
        const buckets: number[] = []
        for (let i = 0; i < mine.length; i++) if (mine[i] !== msg.digest[i]) buckets.push(i)
        if (buckets.length === 0) convergedAt = clock.now()
        if (buckets.length > 0) send(from, { t: 'ae-entries', buckets, entries: replica.bucketEntries(buckets) as never })
        return
      }
      case 'ae-entries': {
        const theirs = msg.entries as never
        const push = replica.rowsNewerThan(theirs, msg.buckets)
        sendRows(from, push)
        const want = replica.wanted(theirs)
        if (want.length > 0) send(from, { t: 'ae-want', keys: want })
        return
      }
      case 'ae-want': {
        sendRows(from, replica.getRows(msg.keys as never))
        return
      }
      case 'ae-rows': {
        const { accepted } = replica.merge(msg.rows, from)
        for (const row of accepted) spread(row)
        return
      }
      default: {
        const never: never = msg
        log?.warn({ msg: never }, 'unknown anti-entropy message')
      }
    }
  }

  return {
    id: init.id,
    swim,
    replica,
    start () {
      if (running) return
      running = true
      swim.start()
      startupDone = 0
      aeTimer = clock.setTimeout(antiEntropy, nextRoundMs() * (0.5 + random()))
      unsubscribe = replica.subscribe({ where: (row) => row.owner === init.id }, (e) => {
        if (e.kind === 'upsert' || e.kind === 'delete') spread(e.row)
      })
    },
    stop () {
      if (!running) return
      running = false
      swim.stop()
      if (aeTimer !== undefined) clock.clearTimeout(aeTimer)
      aeTimer = undefined
      unsubscribe?.()
      unsubscribe = undefined
    },
    join: (seeds) => { swim.join(seeds) },
    leave: () => { swim.leave() },
    receive (from, msg) {
      if (!running) return
      if (msg.t.startsWith('ae-')) receiveAe(from, msg as AntiEntropyMessage)
      else swim.receive(from, msg as SwimMessage)
    },
    members: () => swim.members(),
    onMemberChange: (cb) => { swim.onChange(cb) },
    write: (table, key, data) => replica.write(table, key, data),
    delete: (table, key) => replica.delete(table, key),
    syncWith: (peer) => { syncWith(peer) },
    lastConverged: () => convergedAt
  }
}
