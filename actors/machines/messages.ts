import { Type } from '@sinclair/typebox'
import {
  AppNameSchema, MachineConfigSchema, MachineIdSchema, MachineViewSchema, StopSchema
} from '../../src/api/machines/schemas.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'

const View = MachineViewSchema
const Void = Type.Void()
const Gen = Type.Integer({ minimum: 0 })

/**
 * Messages of `/agent/machines`: create and list this host's machines (from any member: the
 * Machines API and the CLI of any host forward here).
 */
export const machinesProtocol = defineActorProtocol('machines', {
  'machines.status': {
    body: Type.Object({}),
    reply: Type.Object({ ready: Type.Boolean(), implemented: Type.Boolean(), driver: Type.String(), drivers: Type.Array(Type.String()), machines: Type.Integer() }),
    from: 'member'
  },
  'machines.create': {
    body: Type.Object({
      app: AppNameSchema,
      name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
      region: Type.Optional(Type.String({ maxLength: 64 })),
      config: MachineConfigSchema,
      skipLaunch: Type.Optional(Type.Boolean())
    }),
    reply: View,
    from: 'member'
  },
  /**
   * From failover (a survivor of the machine's dead host) or an evacuation (the draining host):
   * re-create a machine here with its id, its config and the next generation (the older copy is
   * stale from now on).
   */
  'machines.replace': {
    body: Type.Object({
      app: AppNameSchema,
      id: MachineIdSchema,
      name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
      region: Type.String({ maxLength: 64 }),
      generation: Type.Integer({ minimum: 2 }),
      createdAt: Type.Number(),
      config: MachineConfigSchema,
      /** Create it without starting (an evacuated machine that was not running). */
      skipLaunch: Type.Optional(Type.Boolean())
    }),
    reply: View,
    from: 'member'
  },
  'machines.list': { body: Type.Object({ app: Type.Optional(AppNameSchema) }), reply: Type.Object({ machines: Type.Array(View) }), from: 'member' },
  /** Before the agent stops: stop every VM (`stopVms`) or leave them running for re-adoption. */
  'machines.shutdown': { body: Type.Object({ stopVms: Type.Boolean() }), reply: Void, from: 'host' },
  /** From a child that finished destroying itself: the sender is the machine to reap. */
  'machines.reap': { body: Type.Object({}), reply: Void, from: 'child' }
})

export type MachinesProtocol = typeof machinesProtocol.specs

/**
 * Messages of `/agent/machines/<id>`: one machine's lifecycle, from any member (the Machines API
 * and routers of every host). `machine.shutdown` comes from `/agent/machines`; `machine.vm-*`,
 * `retry` and `check` only from the actor's own background work.
 */
export const machineProtocol = defineActorProtocol('machine', {
  'machine.get': { body: Type.Object({ app: AppNameSchema }), reply: View, from: 'member' },
  'machine.start': { body: Type.Object({ app: AppNameSchema }), reply: View, from: 'member' },
  'machine.stop': { body: Type.Object({ app: AppNameSchema, ...StopSchema.properties }), reply: View, from: 'member' },
  'machine.suspend': { body: Type.Object({ app: AppNameSchema }), reply: View, from: 'member' },
  'machine.restart': { body: Type.Object({ app: AppNameSchema }), reply: View, from: 'member' },
  'machine.cordon': { body: Type.Object({ app: AppNameSchema, cordoned: Type.Boolean() }), reply: View, from: 'member' },
  'machine.update': {
    body: Type.Object({ app: AppNameSchema, config: MachineConfigSchema, name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })), skipLaunch: Type.Optional(Type.Boolean()) }),
    reply: View,
    from: 'member'
  },
  'machine.destroy': { body: Type.Object({ app: AppNameSchema, force: Type.Boolean() }), reply: View, from: 'member' },
  'machine.metadata': {
    body: Type.Object({ app: AppNameSchema, key: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), value: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()]) }),
    reply: Type.Object({ metadata: Type.Record(Type.String(), Type.String()) }),
    from: 'member'
  },
  'machine.logs': { body: Type.Object({ app: AppNameSchema, maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 * 1024 * 1024 })) }), reply: Type.Object({ text: Type.String() }), from: 'member' },
  'machine.shutdown': { body: Type.Object({ stopVms: Type.Boolean() }), reply: Void, from: 'owner' },
  'machine.vm-started': { body: Type.Object({ gen: Gen }), reply: Void, from: 'self' },
  'machine.vm-failed': { body: Type.Object({ gen: Gen, message: Type.String(), code: Type.String() }), reply: Void, from: 'self' },
  'machine.vm-exited': { body: Type.Object({ gen: Gen }), reply: Void, from: 'self' },
  'machine.vm-suspended': { body: Type.Object({ gen: Gen, ok: Type.Boolean(), message: Type.String() }), reply: Void, from: 'self' },
  'machine.vm-adopted': { body: Type.Object({ gen: Gen, ok: Type.Boolean(), message: Type.String() }), reply: Void, from: 'self' },
  'machine.retry': { body: Type.Object({ gen: Gen }), reply: Void, from: 'self' },
  'machine.check': {
    body: Type.Object({ gen: Gen, name: Type.String(), status: Type.Union([Type.Literal('passing'), Type.Literal('warning'), Type.Literal('critical')]), output: Type.String(), failures: Type.Integer() }),
    reply: Void,
    from: 'self'
  }
})

export type MachineProtocol = typeof machineProtocol.specs
