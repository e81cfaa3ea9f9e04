import { Type, type Static } from '@sinclair/typebox'
import { defineProtocol } from '../../src/codec/protocol.js'

export const MemberSchema = Type.Object({
  hostId: Type.String(),
  name: Type.String(),
  version: Type.String(),
  addresses: Type.Array(Type.String()),
  /** self: this host; connected: a hello-verified connection is open; known: met before; discovered: seen in the DHT only; unreachable: last dial failed. */
  state: Type.Union([Type.Literal('self'), Type.Literal('connected'), Type.Literal('known'), Type.Literal('discovered'), Type.Literal('unreachable')]),
  lastSeen: Type.Number()
})

export type Member = Static<typeof MemberSchema>

/** Messages of `/agent/membership`. Gossip (SWIM) replaces discovery-only membership later. */
export const membershipProtocol = defineProtocol('membership', {
  'membership.list': { body: Type.Object({}), reply: Type.Object({ members: Type.Array(MemberSchema) }) },
  /** Greets every discovered host that has not said hello yet, so its name and version are known. */
  'membership.introduce': { body: Type.Object({ hostId: Type.String({ pattern: '^[0-9a-f]{64}$' }) }), reply: Type.Void() }
})

export type MembershipProtocol = typeof membershipProtocol.specs
