import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { Transport } from '../../src/transport/transport.js'
import type { AgentProtocol } from '../agent/messages.js'
import { membershipProtocol, type Member, type MembershipProtocol } from './messages.js'

export interface MembershipComponents {
  transport: Transport
}

/**
 * Who is in the cluster, as far as this host knows: hosts announced under the cluster topic,
 * each introduced once by an `agent.ping` (which opens a connection and runs the hello; the
 * connection then idles out). The gossip issue replaces this with SWIM membership.
 */
export interface MembershipInit {
  name: string
  version: string
}

export function membershipActor (init: MembershipInit, components: MembershipComponents): ActorDefinition<MembershipProtocol> {
  const { transport } = components
  return defineActor({
    protocol: membershipProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const onDiscover = (hostId: string): void => {
        ctx.system.dispatch(ctx.self, { type: 'membership.introduce', hostId })
      }
      transport.on('discover', onDiscover)
      for (const p of transport.peers()) if (!p.admitted) onDiscover(p.hostId)
      return {
        handlers: {
          'membership.list': () => {
            const now = Date.now()
            const self: Member = { hostId: ctx.system.hostId, name: init.name, version: init.version, addresses: transport.addresses(), state: 'self', lastSeen: now }
            const members: Member[] = [self]
            for (const p of transport.peers()) {
              const state: Member['state'] = p.connected ? 'connected' : p.unreachable ? 'unreachable' : p.admitted ? 'known' : 'discovered'
              members.push({ hostId: p.hostId, name: p.name, version: p.version, addresses: p.addresses, state, lastSeen: p.lastSeen })
            }
            return { members }
          },
          'membership.introduce': (msg) => {
            const peer = transport.peers().find(p => p.hostId === msg.hostId)
            if (peer?.admitted === true) return
            ctx.system.ask(ref<AgentProtocol>(msg.hostId, '/agent'), { type: 'agent.ping' }, { timeoutMs: 10_000, from: ctx.path })
              .then(() => { ctx.log.info({ host: msg.hostId, name: transport.peers().find(p => p.hostId === msg.hostId)?.name }, 'met host') })
              .catch((err: Error & { code?: string }) => { ctx.log.warn({ host: msg.hostId, code: err.code, err: err.message }, 'could not introduce host') })
          }
        },
        stop () { transport.off('discover', onDiscover) }
      }
    }
  })
}
