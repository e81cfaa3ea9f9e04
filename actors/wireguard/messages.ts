import { Type } from '@sinclair/typebox'
import { defineProtocol } from '../../src/codec/protocol.js'

/** Messages of `/agent/wireguard`. A later issue fills this family in; for now it reports that it is up. */
export const wireguardProtocol = defineProtocol('wireguard', {
  'wireguard.status': {
    body: Type.Object({}),
    reply: Type.Object({ ready: Type.Boolean(), implemented: Type.Boolean() })
  }
})

export type WireguardProtocol = typeof wireguardProtocol.specs
