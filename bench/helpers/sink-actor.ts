import { Type } from '@sinclair/typebox'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import type { PathStats } from '../../src/transport/mesh-transport.js'
import type { CpuProfiler } from './cpu-profiler.js'

/** Where the sink lives on the receiving agent. */
export const SINK_NAME = 'bench-sink'
export const SINK_PATH = `/${SINK_NAME}`

const Frames = Type.Object({ wireguard: Type.Number(), hyperswarm: Type.Number() })

export const sinkProtocol = defineActorProtocol('bench-sink', {
  /** One of the bench's one-way messages: counted, nothing else. */
  'bench.hit': { body: Type.Object({ seq: Type.Integer(), payload: Type.String() }), reply: Type.Void(), from: 'member' },
  /** How many hits arrived so far, and the receiving transport's frame counts per path. */
  'bench.count': { body: Type.Object({}), reply: Type.Object({ count: Type.Number(), framesOut: Frames, framesIn: Frames }), from: 'member' },
  /** Starts or stops the receiving process's CPU profile (a no-op unless it profiles). */
  'bench.profile': { body: Type.Object({ on: Type.Boolean() }), reply: Type.Void(), from: 'member' }
})

export type SinkProtocol = typeof sinkProtocol.specs

/**
 * The receiving actor of the dispatch benches. It counts only the bench's own messages, so a
 * lost one shows (the agent's delivered count also holds the gossip between the hosts).
 */
export function sinkActor (components: { stats: () => PathStats, profiler?: CpuProfiler }): ActorDefinition<SinkProtocol> {
  return defineActor({
    protocol: sinkProtocol,
    policy: policies.stop(),
    create () {
      let count = 0
      return {
        handlers: {
          'bench.hit': () => { count++ },
          'bench.count': () => {
            const s = components.stats()
            return { count, framesOut: s.framesOut, framesIn: s.framesIn }
          },
          'bench.profile': async ({ on }) => {
            if (components.profiler === undefined) return
            if (on) await components.profiler.start()
            else await components.profiler.stop()
          }
        }
      }
    }
  })
}
