import { Type } from '@sinclair/typebox'
import { ServiceRowSchema } from '../../src/gossip/rows.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { CertsAddBody, CertsAddReply, CertsListBody, CertsListReply, CertsRmBody, CertsRmReply } from '../../src/proxy/tls/cert-messages.js'
import { MembersChangedSpec, StateChangedSpec } from '../membership/messages.js'

const Void = Type.Void()
const Listener = Type.Object({
  port: Type.Integer(),
  address: Type.String(),
  tls: Type.Boolean(),
  http: Type.Boolean(),
  apps: Type.Array(Type.String()),
  state: Type.Union([Type.Literal('opening'), Type.Literal('listening'), Type.Literal('failed')]),
  error: Type.Union([Type.String(), Type.Null()])
})

/** What `router.routes` answers (`roost routes`): the data plane's own view. */
export const RoutesViewSchema = Type.Object({
  version: Type.Integer(),
  host: Type.String(),
  region: Type.String(),
  domain: Type.String(),
  listeners: Type.Array(Listener),
  apps: Type.Array(Type.Object({
    app: Type.String(),
    hostnames: Type.Array(Type.String()),
    ports: Type.Array(Type.Object({ port: Type.Integer(), service: Type.Integer(), internalPort: Type.Integer(), handlers: Type.Array(Type.String()), forceHttps: Type.Boolean() })),
    concurrency: Type.Union([Type.Object({ type: Type.String(), softLimit: Type.Integer(), hardLimit: Type.Integer() }), Type.Null()]),
    machines: Type.Array(Type.Object({
      id: Type.String(),
      host: Type.String(),
      hostName: Type.String(),
      region: Type.String(),
      state: Type.String(),
      health: Type.String(),
      cordoned: Type.Boolean(),
      local: Type.Boolean(),
      routable: Type.Boolean(),
      inflight: Type.Integer(),
      remoteInflight: Type.Integer()
    })),
    counters: Type.Record(Type.String(), Type.Integer())
  })),
  rejected: Type.Array(Type.Object({ table: Type.String(), key: Type.String(), reason: Type.String() })),
  backhaul: Type.Object({
    address: Type.Union([Type.Object({ address: Type.String(), port: Type.Integer() }), Type.Null()]),
    mode: Type.String(),
    accepted: Type.Integer(),
    refused: Type.Integer(),
    open: Type.Integer()
  }),
  pool: Type.Object({ idle: Type.Integer() }),
  waiting: Type.Integer(),
  connections: Type.Integer(),
  loop: Type.Object({ activeMs: Type.Number(), idleMs: Type.Number() }),
  autostop: Type.Object({ intervalMs: Type.Integer(), stopped: Type.Integer(), started: Type.Integer() })
})

const MachineLoadSchema = Type.Object({ inflight: Type.Integer({ minimum: 0 }), edge: Type.Integer({ minimum: 0 }), backhaulOpen: Type.Integer({ minimum: 0 }), lastActivity: Type.Number(), total: Type.Number() })

/**
 * Messages of `/agent/router`. The CLI and other hosts may send `router.status`,
 * `router.routes`, `router.(un)deploy` and `router.certs-*`; `state.changed` and `members.changed` come from this
 * host's membership actor, and the rest only from the router itself (its data-plane thread and
 * timers report through it).
 */
export const routerProtocol = defineActorProtocol('router', {
  'router.status': {
    body: Type.Object({}),
    reply: Type.Object({ ready: Type.Boolean(), listeners: Type.Integer(), apps: Type.Integer(), backhaul: Type.Union([Type.String(), Type.Null()]) }),
    from: 'member'
  },
  'router.routes': { body: Type.Object({ app: Type.Optional(Type.String({ maxLength: 64 })) }), reply: RoutesViewSchema, from: 'member' },
  /** Publishes an app's routing spec (the `services` row) after checking it against the other apps' ports. */
  'router.deploy': { body: Type.Object({ spec: ServiceRowSchema }), reply: Type.Object({ app: Type.String(), deployVersion: Type.Integer() }), from: 'member' },
  /** Removes an app's routes (its `services` row). */
  'router.undeploy': { body: Type.Object({ app: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) }), reply: Void, from: 'member' },
  'router.certs-add': { body: CertsAddBody, reply: CertsAddReply, from: 'member' },
  'router.certs-list': { body: CertsListBody, reply: CertsListReply, from: 'member' },
  'router.certs-rm': { body: CertsRmBody, reply: CertsRmReply, from: 'member' },
  'state.changed': StateChangedSpec,
  'members.changed': MembersChangedSpec,
  'router.tick': { body: Type.Object({}), reply: Void, from: 'self' },
  'router.compile': { body: Type.Object({}), reply: Void, from: 'self' },
  'router.stats': { body: Type.Object({ machines: Type.Record(Type.String(), MachineLoadSchema), connections: Type.Integer() }), reply: Void, from: 'self' },
  'router.autostart': {
    body: Type.Object({ app: Type.String(), service: Type.Integer(), reason: Type.Union([Type.Literal('no-started-machine'), Type.Literal('all-over-soft-limit')]) }),
    reply: Void,
    from: 'self'
  },
  'router.listener': { body: Listener, reply: Void, from: 'self' },
  'router.dataplane-exit': { body: Type.Object({ message: Type.String() }), reply: Void, from: 'self' },
  'router.autostop-step': {
    body: Type.Object({ machine: Type.String(), app: Type.String(), host: Type.String(), step: Type.Union([Type.Literal('stop'), Type.Literal('uncordon'), Type.Literal('done')]), mode: Type.Union([Type.Literal('stop'), Type.Literal('suspend')]) }),
    reply: Void,
    from: 'self'
  }
})

export type RouterProtocol = typeof routerProtocol.specs
