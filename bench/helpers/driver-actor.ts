import { Type } from '@sinclair/typebox'
import type { AgentProtocol } from '../../actors/agent/messages.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { settledCount } from './settled-count.js'
import { SINK_PATH, type SinkProtocol } from './sink-actor.js'

/** Dispatches between yields to the event loop. */
export const BATCH = 1_000
/** The payload of every bench message (the same in the raw peers). */
export const PAYLOAD = 'x'.repeat(32)

export const benchProtocol = defineActorProtocol('bench', {
  'bench.latency': { body: Type.Object({ host: Type.String(), n: Type.Integer() }), reply: Type.Object({ samplesMs: Type.Array(Type.Number()) }), from: 'host' },
  'bench.dispatch': { body: Type.Object({ host: Type.String(), n: Type.Integer() }), reply: Type.Object({ elapsedMs: Type.Number(), delivered: Type.Number() }), from: 'host' }
})

/**
 * The sending actor of the bench, on agent A. Latency: asks (`agent.ping`) to agent B's `/agent`,
 * one at a time. Dispatch: one-way `bench.hit`s to B's sink, then B's count of them.
 */
export const driverActor = defineActor({
  protocol: benchProtocol,
  policy: policies.stop(),
  create (ctx) {
    return {
      handlers: {
        'bench.latency': async ({ host, n }) => {
          const agent = ref<AgentProtocol>(host, '/agent')
          const samplesMs: number[] = []
          for (let i = 0; i < n; i++) {
            const t0 = performance.now()
            await ctx.system.ask(agent, { type: 'agent.ping', seq: i, payload: PAYLOAD }, { from: ctx.path })
            samplesMs.push(performance.now() - t0)
          }
          return { samplesMs }
        },
        'bench.dispatch': async ({ host, n }) => {
          const sink = ref<SinkProtocol>(host, SINK_PATH)
          const count = async (): Promise<number> => (await ctx.system.ask(sink, { type: 'bench.count' }, { timeoutMs: 60_000 })).count
          const before = await count()
          const t0 = performance.now()
          for (let i = 0; i < n; i++) {
            ctx.system.dispatch(sink, { type: 'bench.hit', seq: i, payload: PAYLOAD }, { from: ctx.path })
            if ((i + 1) % BATCH === 0) await new Promise(resolve => setImmediate(resolve))
          }
          const after = await settledCount(count, before + n)
          return { elapsedMs: after.at - t0, delivered: after.count - before }
        }
      }
    }
  }
})
