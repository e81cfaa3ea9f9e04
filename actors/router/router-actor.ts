import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { routerProtocol, type RouterProtocol } from './messages.js'

/** Placeholder of the router family under `/agent`, with its supervision policy already set. */
export function routerActor (_init: Record<string, never>, _components: Record<string, never>): ActorDefinition<RouterProtocol> {
  return defineActor({
    protocol: routerProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create () {
      return {
        handlers: {
          'router.status': () => ({ ready: true, implemented: false })
        }
      }
    }
  })
}
