import { Type, type Static } from '@sinclair/typebox'

const HostId = Type.String({ pattern: '^[0-9a-f]{64}$' })

/** A member's self-description, spread with its `alive` updates. */
export const MemberMetaSchema = Type.Object({
  name: Type.String({ maxLength: 128 }),
  region: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 16 }),
  version: Type.String({ maxLength: 64 })
})
export type MemberMeta = Static<typeof MemberMetaSchema>

/** Membership update kinds, in the order SWIM ranks them at equal incarnation. */
export const ALIVE = 0
export const SUSPECT = 1
export const DEAD = 2
export const LEFT = 3

/** One piggybacked membership update. `by` names the accuser of suspect/dead. */
export const UpdateSchema = Type.Object({
  k: Type.Union([Type.Literal(ALIVE), Type.Literal(SUSPECT), Type.Literal(DEAD), Type.Literal(LEFT)]),
  id: HostId,
  inc: Type.Integer({ minimum: 0 }),
  by: Type.Optional(HostId),
  meta: Type.Optional(MemberMetaSchema)
})
export type Update = Static<typeof UpdateSchema>

const Piggy = {
  /** Membership updates. */
  u: Type.Optional(Type.Array(UpdateSchema, { maxItems: 64 })),
  /** Opaque user broadcasts (replicated rows), validated by their own layer. */
  x: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 64 }))
}

export const PingSchema = Type.Object({ seq: Type.Integer({ minimum: 0 }), target: HostId, ...Piggy })
export const AckSchema = Type.Object({ seq: Type.Integer({ minimum: 0 }), ...Piggy })
export const PingReqSchema = Type.Object({ seq: Type.Integer({ minimum: 0 }), target: HostId, ...Piggy })
export const NackSchema = Type.Object({ seq: Type.Integer({ minimum: 0 }) })
export const GossipSchema = Type.Object({ ...Piggy })
export const SyncSchema = Type.Object({
  members: Type.Array(UpdateSchema, { maxItems: 100_000 }),
  /** True when the sender wants the receiver's state back (the push half of push-pull). */
  reply: Type.Boolean()
})

/** SWIM's messages between hosts (the wire form; hosts are identified by the connection). */
export type SwimMessage =
  | ({ t: 'ping' } & Static<typeof PingSchema>)
  | ({ t: 'ack' } & Static<typeof AckSchema>)
  | ({ t: 'ping-req' } & Static<typeof PingReqSchema>)
  | ({ t: 'nack' } & Static<typeof NackSchema>)
  | ({ t: 'gossip' } & Static<typeof GossipSchema>)
  | ({ t: 'sync' } & Static<typeof SyncSchema>)

export const SWIM_SCHEMAS = {
  ping: PingSchema,
  ack: AckSchema,
  'ping-req': PingReqSchema,
  nack: NackSchema,
  gossip: GossipSchema,
  sync: SyncSchema
} as const
