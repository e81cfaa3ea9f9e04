import { Type } from '@sinclair/typebox'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { AppNameSchema, MachineConfigSchema, MachineViewSchema } from '../../src/api/machines/schemas.js'

const Region = Type.String({ minLength: 1, maxLength: 64 })

/** One host a placement asked, and why it did not take the machine. */
export const PlacementRefusalSchema = Type.Object({
  host: Type.String(),
  code: Type.String(),
  message: Type.String()
})

/** Messages of `/agent/placement`: put a new machine on the best host the local replica knows. */
export const placementProtocol = defineActorProtocol('placement', {
  /**
   * Creates one machine of `app` on a host chosen from the local replica (alive, not draining, in
   * one of `regions` when given, with room; fewest machines of the app first). The chosen host
   * may refuse (its room is its own to judge); the next candidate is asked then.
   */
  'placement.place': {
    body: Type.Object({
      app: AppNameSchema,
      config: MachineConfigSchema,
      regions: Type.Optional(Type.Array(Region, { maxItems: 32 })),
      name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
      skipLaunch: Type.Optional(Type.Boolean())
    }),
    reply: Type.Object({ machine: MachineViewSchema, refusals: Type.Array(PlacementRefusalSchema) }),
    from: 'member'
  }
})

export type PlacementProtocol = typeof placementProtocol.specs
