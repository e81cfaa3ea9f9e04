import { Type, type Static } from '@sinclair/typebox'
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

/** Messages of the `/agent` root actor: probes any member may send. */
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
  'agent.stats': { body: Type.Object({ reset: Type.Optional(Type.Boolean()) }), reply: AgentStatsSchema, from: 'member' }
})

export type AgentProtocol = typeof agentProtocol.specs
