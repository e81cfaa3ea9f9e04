import { Type, type Static } from '@sinclair/typebox'
import { AE_SCHEMAS } from '../../src/gossip/gossip-node.js'
import { TABLES } from '../../src/gossip/rows.js'
import { SWIM_SCHEMAS } from '../../src/gossip/swim-messages.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'

/** Where each host runs its membership actor (the agent spawns it as `membership`). */
export const MEMBERSHIP_PATH = '/agent/membership'

export const MemberSchema = Type.Object({
  hostId: Type.String(),
  name: Type.String(),
  version: Type.String(),
  region: Type.String(),
  addresses: Type.Array(Type.String()),
  state: Type.Union([Type.Literal('alive'), Type.Literal('suspect'), Type.Literal('dead'), Type.Literal('left')]),
  self: Type.Boolean(),
  incarnation: Type.Number(),
  /** Smoothed RTT of direct probes, ms (null until measured). */
  rttMs: Type.Union([Type.Number(), Type.Null()]),
  /** ms since epoch of the last state change this host saw. */
  changedAt: Type.Number(),
  /** ms since epoch since when this host has seen it suspect or dead (0 while alive). */
  downSince: Type.Optional(Type.Number())
})

export type Member = Static<typeof MemberSchema>

const TableSchema = Type.Union(TABLES.map(t => Type.Literal(t)))
const HostId = Type.String({ pattern: '^[0-9a-f]{64}$' })
const Void = Type.Void()

/**
 * A change event as subscribers receive it (they declare `state.changed` in their protocol);
 * it comes from this host's membership actor.
 */
export const StateChangedSpec = {
  body: Type.Object({
    seq: Type.Integer(),
    kind: Type.Union([Type.Literal('upsert'), Type.Literal('delete'), Type.Literal('owner-dead'), Type.Literal('owner-alive')]),
    row: Type.Object({
      table: TableSchema,
      key: Type.String(),
      owner: Type.String(),
      version: Type.Number(),
      deleted: Type.Boolean(),
      data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
      ownerDead: Type.Boolean(),
      receivedAt: Type.Number()
    })
  }),
  reply: Void,
  from: 'host' as const
}

/**
 * A member's state changed (alive, suspect, dead, left), as subscribers that asked for it receive
 * it (`members: true`; they declare `members.changed` in their protocol); from this host's
 * membership actor. What else changed is read with `membership.list`.
 */
export const MembersChangedSpec = {
  body: Type.Object({ hostId: HostId, state: MemberSchema.properties.state }),
  reply: Void,
  from: 'host' as const
}

/**
 * Messages of `/agent/membership`: membership and replicated state for local actors and the CLI,
 * gossip between hosts. Only this host changes its rows or its membership; any member may read
 * what gossip gives every member anyway.
 */
export const membershipProtocol = defineActorProtocol('membership', {
  'membership.list': { body: Type.Object({}), reply: Type.Object({ members: Type.Array(MemberSchema) }), from: 'member' },
  /** The figures `/metrics` serves: members by state, rows per table, anti-entropy lag, probe round trips. */
  'membership.metrics': {
    body: Type.Object({}),
    reply: Type.Object({
      members: Type.Record(Type.String(), Type.Integer()),
      tables: Type.Record(Type.String(), Type.Object({ rows: Type.Integer(), tombstones: Type.Integer() })),
      /** ms since a peer's anti-entropy digest last equalled this replica's; null before the first. */
      antiEntropyLagMs: Type.Union([Type.Number(), Type.Null()]),
      probeRtt: Type.Object({ bounds: Type.Array(Type.Number()), counts: Type.Array(Type.Number()), sum: Type.Number() })
    }),
    from: 'host'
  },
  'membership.state': {
    body: Type.Object({ table: TableSchema, includeDeleted: Type.Optional(Type.Boolean()) }),
    reply: Type.Object({ rows: Type.Array(StateChangedSpec.body.properties.row) }),
    from: 'member'
  },
  /**
   * Ordered `state.changed` events for rows of `table` (optionally of one owner) go to
   * `subscriber` (a local actor path); with `members`, a `members.changed` for every member
   * state change too.
   */
  'membership.subscribe': {
    body: Type.Object({ subscriber: Type.String({ pattern: '^/' }), table: Type.Optional(TableSchema), owner: Type.Optional(HostId), members: Type.Optional(Type.Boolean()) }),
    reply: Type.Object({ seq: Type.Integer() }),
    from: 'host'
  },
  'membership.unsubscribe': { body: Type.Object({ subscriber: Type.String() }), reply: Void, from: 'host' },
  /** Writes a row owned by this host. */
  'membership.write': {
    body: Type.Object({ table: TableSchema, key: Type.String({ minLength: 1, maxLength: 256 }), data: Type.Record(Type.String(), Type.Unknown()) }),
    reply: StateChangedSpec.body.properties.row,
    from: 'host'
  },
  'membership.delete': { body: Type.Object({ table: TableSchema, key: Type.String({ minLength: 1, maxLength: 256 }) }), reply: StateChangedSpec.body.properties.row, from: 'host' },
  /** A host found under the cluster topic: exchange membership with it. */
  'membership.introduce': { body: Type.Object({ hostId: HostId }), reply: Void, from: 'self' },
  /** Broadcasts that this host leaves, before a graceful stop. */
  /** Marks this host draining (placement and failover put nothing new here) or not; kept across restarts. */
  'membership.drain': { body: Type.Object({ draining: Type.Boolean() }), reply: Type.Object({ draining: Type.Boolean() }), from: 'host' },
  'membership.leave': { body: Type.Object({}), reply: Void, from: 'host' },
  /** Test-only fault injection (agents started with ROOST_ENABLE_FAULTS=1): drop gossip to and from these hosts. */
  'membership.fault': { body: Type.Object({ block: Type.Array(HostId, { maxItems: 1024 }) }), reply: Void, from: 'host' },
  'gossip.ping': { body: SWIM_SCHEMAS.ping, reply: Void, from: 'member' },
  'gossip.ack': { body: SWIM_SCHEMAS.ack, reply: Void, from: 'member' },
  'gossip.ping-req': { body: SWIM_SCHEMAS['ping-req'], reply: Void, from: 'member' },
  'gossip.nack': { body: SWIM_SCHEMAS.nack, reply: Void, from: 'member' },
  'gossip.gossip': { body: SWIM_SCHEMAS.gossip, reply: Void, from: 'member' },
  'gossip.sync': { body: SWIM_SCHEMAS.sync, reply: Void, from: 'member' },
  'gossip.ae-digest': { body: AE_SCHEMAS['ae-digest'], reply: Void, from: 'member' },
  'gossip.ae-entries': { body: AE_SCHEMAS['ae-entries'], reply: Void, from: 'member' },
  'gossip.ae-want': { body: AE_SCHEMAS['ae-want'], reply: Void, from: 'member' },
  'gossip.ae-rows': { body: AE_SCHEMAS['ae-rows'], reply: Void, from: 'member' }
})

export type MembershipProtocol = typeof membershipProtocol.specs

/** The protocol a subscriber actor includes to receive state changes. */
export type StateSubscriberProtocol = { 'state.changed': typeof StateChangedSpec }

/** The protocol of a subscriber that also asked for member state changes. */
export type MembersSubscriberProtocol = StateSubscriberProtocol & { 'members.changed': typeof MembersChangedSpec }
