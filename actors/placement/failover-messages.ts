import { Type } from '@sinclair/typebox'
import { defineProtocol } from '../../src/codec/protocol.js'

/** Messages of `/agent/failover`. */
export const failoverProtocol = defineProtocol('failover', {
  /** Where this host's fence stands and what failover did here. */
  'failover.status': {
    body: Type.Object({}),
    reply: Type.Object({
      fence: Type.Union([Type.Literal('serving'), Type.Literal('unroutable'), Type.Literal('stopped')]),
      lostSinceMs: Type.Union([Type.Number(), Type.Null()]),
      fenced: Type.Array(Type.String()),
      replaced: Type.Integer()
    })
  }
})

export type FailoverProtocol = typeof failoverProtocol.specs
