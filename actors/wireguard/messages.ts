import { Type, type Static } from '@sinclair/typebox'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { StateChangedSpec } from '../membership/messages.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])

/** One tunnel as this host sees it. */
export const MeshPeerSchema = Type.Object({
  hostId: Type.String(),
  publicKey: Type.String(),
  address: Type.String(),
  endpoint: Nullable(Type.String()),
  /** Unix seconds of the last completed handshake (0: never). */
  latestHandshake: Type.Number(),
  rxBytes: Type.Number(),
  txBytes: Type.Number(),
  /** The path actor messages to this host take now. */
  path: Type.Union([Type.Literal('wireguard'), Type.Literal('hyperswarm')])
})

export const WireguardStatusSchema = Type.Object({
  /** `wireguard` when this host's tunnel end runs; `stream` when messages only use hyperswarm streams. */
  mode: Type.Union([Type.Literal('wireguard'), Type.Literal('stream')]),
  /** Why the mode is `stream` (disabled, not root, no wireguard-go, failed to start). */
  reason: Nullable(Type.String()),
  ifname: Nullable(Type.String()),
  publicKey: Nullable(Type.String()),
  address: Nullable(Type.String()),
  prefix: Type.String(),
  listenPort: Nullable(Type.Number()),
  meshPort: Nullable(Type.Number()),
  endpoint: Nullable(Type.String()),
  pid: Nullable(Type.Number()),
  restarts: Type.Number(),
  collisions: Type.Number(),
  peers: Type.Array(MeshPeerSchema),
  stats: Type.Object({
    framesOut: Type.Object({ wireguard: Type.Number(), hyperswarm: Type.Number() }),
    framesIn: Type.Object({ wireguard: Type.Number(), hyperswarm: Type.Number() }),
    switches: Type.Number(),
    resent: Type.Number()
  })
})

export type WireguardStatus = Static<typeof WireguardStatusSchema>
export type MeshPeerView = Static<typeof MeshPeerSchema>

/** Messages of `/agent/wireguard`: the host's tunnel end and its peers. */
export const wireguardProtocol = defineActorProtocol('wireguard', {
  'wireguard.status': { body: Type.Object({}), reply: WireguardStatusSchema, from: 'member' },
  /** Gossiped `wireguard` rows changed (from `/agent/membership`): bring the peers in step. */
  'state.changed': StateChangedSpec,
  /** Internal: the background start or a sync failed; the handler throws so the crash policy decides. */
  'wireguard.failed': { body: Type.Object({ message: Type.String(), code: Type.String() }), reply: Type.Void(), from: 'self' }
})

export type WireguardProtocol = typeof wireguardProtocol.specs
