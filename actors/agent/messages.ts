import { Type, type Static } from '@sinclair/typebox'
import { RoostEventSchema } from '../../src/events/event-kinds.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'

export const AgentInfoSchema = Type.Object({
  hostId: Type.String(),
  name: Type.String(),
  cluster: Type.String(),
  version: Type.String(),
  pid: Type.Number(),
  uptimeMs: Type.Number(),
  rssBytes: Type.Number(),
  addresses: Type.Array(Type.String()),
  transport: Type.String(),
  actors: Type.Array(Type.String()),
  stats: Type.Object({
    delivered: Type.Number(),
    rejected: Type.Number(),
    crashes: Type.Number(),
    restarts: Type.Number(),
    badFrames: Type.Number()
  })
})

/** What `agent.info` answers. */
export type AgentInfo = Static<typeof AgentInfoSchema>

/** What `agent.stats` answers: cheap figures for the fuzz bench and health checks. */
export const AgentStatsSchema = Type.Object({
  pid: Type.Number(),
  rssBytes: Type.Number(),
  heapUsedBytes: Type.Number(),
  /** Event-loop delay since the last reset (the monitor starts on the first `agent.stats`). */
  eventLoop: Type.Object({ maxMs: Type.Number(), p99Ms: Type.Number(), meanMs: Type.Number(), resolutionMs: Type.Number(), sinceMs: Type.Number() }),
  /** Own properties of `Object.prototype`: more than a fresh process has means something polluted it. */
  objectPrototypeKeys: Type.Integer(),
  stats: AgentInfoSchema.properties.stats
})

/** What `agent.stats` answers. */
export type AgentStats = Static<typeof AgentStatsSchema>

/** Most events one `agent.events` reply carries. */
export const MAX_EVENTS_PER_REPLY = 500
/** About how many bytes of events one reply carries (well under a frame's limit). */
export const MAX_EVENT_REPLY_BYTES = 256 * 1024

/** What `agent.events` answers: a page of this host's event stream. */
export const AgentEventsSchema = Type.Object({
  hostId: Type.String(),
  name: Type.String(),
  /** The newest seq this host recorded (0 before any). */
  lastSeq: Type.Integer({ minimum: 0 }),
  /** The oldest seq it still keeps: a `since` below `firstSeq - 1` missed some. */
  firstSeq: Type.Integer({ minimum: 0 }),
  events: Type.Array(RoostEventSchema)
})

export type AgentEvents = Static<typeof AgentEventsSchema>

/** Messages of the `/agent` root actor: probes and reads any member may send. */
export const agentProtocol = defineActorProtocol('agent', {
  /** Liveness and round-trip probe; echoes `seq` and `payload`. */
  'agent.ping': {
    body: Type.Object({
      seq: Type.Optional(Type.Integer()),
      payload: Type.Optional(Type.String({ maxLength: 65536 }))
    }),
    reply: Type.Object({ host: Type.String(), seq: Type.Optional(Type.Integer()), payload: Type.Optional(Type.String()) }),
    from: 'member'
  },
  /** Who this host is and what runs on it. */
  'agent.info': { body: Type.Object({}), reply: AgentInfoSchema, from: 'member' },
  /** Event-loop delay, memory and supervision counters; `reset` starts a new event-loop window. */
  'agent.stats': { body: Type.Object({ reset: Type.Optional(Type.Boolean()) }), reply: AgentStatsSchema, from: 'member' },
  /**
   * This host's events after `since`, oldest first (`roost events` reads any host's through
   * the local agent). Any member may read them: they say what `roost members` and
   * `roost state` already show any member, in order; they change nothing.
   */
  'agent.events': {
    body: Type.Object({
      since: Type.Optional(Type.Integer({ minimum: 0 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EVENTS_PER_REPLY }))
    }),
    reply: AgentEventsSchema,
    from: 'member'
  }
})

export type AgentProtocol = typeof agentProtocol.specs
