import { Type } from '@sinclair/typebox'
import type { AgentProtocol } from '../../actors/agent/messages.js'
import { defineProtocol } from '../../src/codec/protocol.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'

/** Dispatches between yields to the event loop. */
export const BATCH = 1_000
/** The payload of every bench message (the same in the raw peers). */
export const PAYLOAD = 'x'.repeat(32)

export const benchProtocol = defineProtocol('bench', {
  'bench.latency': { body: Type.Object({ host: Type.String(), n: Type.Integer() }), reply: Type.Object({ samplesMs: Type.Array(Type.Number()) }) },
  'bench.dispatch': { body: Type.Object({ host: Type.String(), n: Type.Integer() }), reply: Type.Object({ elapsedMs: Type.Number(), delivered: Type.Number() }) }
})

/** The sending actor of the bench: lives on agent A, talks to agent B's `/agent`. */
export const driverActor = defineActor({
  protocol: benchProtocol,
  policy: policies.stop(),
  create (ctx) {
    const ping = async (host: string, seq: number): Promise<void> => {
      await ctx.system.ask(ref<AgentProtocol>(host, '/agent'), { type: 'agent.ping', seq, payload: PAYLOAD }, { from: ctx.path })
    }
    return {
      handlers: {
        'bench.latency': async ({ host, n }) => {
          const samplesMs: number[] = []
          for (let i = 0; i < n; i++) {
            const t0 = performance.now()
            await ping(host, i)
            samplesMs.push(performance.now() - t0)
          }
          return { samplesMs }
        },
        'bench.dispatch': async ({ host, n }) => {
          const target = ref<AgentProtocol>(host, '/agent')
          const before = (await ctx.system.ask(target, { type: 'agent.info' })).stats.delivered
          const t0 = performance.now()
          for (let i = 0; i < n; i++) {
            ctx.system.dispatch(target, { type: 'agent.ping', seq: i, payload: PAYLOAD }, { from: ctx.path })
            if ((i + 1) % BATCH === 0) await new Promise(resolve => setImmediate(resolve))
          }
          const after = await ctx.system.ask(target, { type: 'agent.info' }, { timeoutMs: 60_000 })
          const elapsedMs = performance.now() - t0
          return { elapsedMs, delivered: after.stats.delivered - before - 1 }
        }
      }
    }
  }
})

