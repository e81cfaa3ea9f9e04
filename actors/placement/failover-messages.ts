import { Type } from '@sinclair/typebox'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { MembersChangedSpec, StateChangedSpec } from '../membership/messages.js'

/** Messages of `/agent/failover`. */
export const failoverProtocol = defineActorProtocol('failover', {
  /** From this host's membership: a member changed state (failover acts at once). */
  'members.changed': MembersChangedSpec,
  /** From this host's membership: a `hosts` row changed (subscribed with the members). */
  'state.changed': StateChangedSpec,
  /**
   * `roost host drain|undrain`: mark this host draining (nothing new is placed here) and move its
   * machines away one by one, each new copy started (and passing its checks) before the old one
   * is destroyed; or stop draining.
   */
  'failover.drain': {
    body: Type.Object({ draining: Type.Boolean() }),
    reply: Type.Object({ draining: Type.Boolean(), machines: Type.Integer() }),
    from: 'member'
  },
  /** Where this host's fence stands and what failover did here. */
  'failover.status': {
    body: Type.Object({}),
    reply: Type.Object({
      fence: Type.Union([Type.Literal('serving'), Type.Literal('unroutable'), Type.Literal('stopped')]),
      lostSinceMs: Type.Union([Type.Number(), Type.Null()]),
      fenced: Type.Array(Type.String()),
      replaced: Type.Integer(),
      draining: Type.Boolean(),
      evacuated: Type.Integer(),
      evacuating: Type.Union([Type.String(), Type.Null()])
    }),
    from: 'member'
  }
})

export type FailoverProtocol = typeof failoverProtocol.specs
