import { Type } from '@sinclair/typebox'
import { defineProtocol } from '../../src/codec/protocol.js'

/** Messages of `/agent/router`. A later issue fills this family in; for now it reports that it is up. */
export const routerProtocol = defineProtocol('router', {
  'router.status': {
    body: Type.Object({}),
    reply: Type.Object({ ready: Type.Boolean(), implemented: Type.Boolean() })
  }
})

export type RouterProtocol = typeof routerProtocol.specs
