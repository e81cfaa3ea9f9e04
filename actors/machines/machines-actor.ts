import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { machinesProtocol, type MachinesProtocol } from './messages.js'

/** Placeholder of the machines family under `/agent`, with its supervision policy already set. */
export function machinesActor (_init: Record<string, never>, _components: Record<string, never>): ActorDefinition<MachinesProtocol> {
  return defineActor({
    protocol: machinesProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create () {
      return {
        handlers: {
          'machines.status': () => ({ ready: true, implemented: false })
        }
      }
    }
  })
}
