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
  'agent.info': { body: Type.Object({}), reply: AgentInfoSchema, from: 'member' }
})

export type AgentProtocol = typeof agentProtocol.specs
