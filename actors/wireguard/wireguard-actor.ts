import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { wireguardProtocol, type WireguardProtocol } from './messages.js'

/** Placeholder of the wireguard family under `/agent`, with its supervision policy already set. */
export function wireguardActor (_init: Record<string, never>, _components: Record<string, never>): ActorDefinition<WireguardProtocol> {
  return defineActor({
    protocol: wireguardProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create () {
      return {
        handlers: {
          'wireguard.status': () => ({ ready: true, implemented: false })
        }
      }
    }
  })
}
