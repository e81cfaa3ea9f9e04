import { EventEmitter } from 'node:events'
import { createCodec } from '../codec/codec.js'
import type { Logger } from '../log/logger.js'
import type { DataPlane } from './data-plane.js'
import type { DataPlaneThread, DataPlaneThreadEvents, DataPlaneThreadInit } from './data-plane-thread.js'
import { setupDataPlane } from './data-plane-setup.js'

/**
 * The data plane on the caller's own event loop, behind the same interface as its thread. For
 * tests and diagnosis only (`ROOST_DATAPLANE_INLINE=1` on an agent): it shows what the thread
 * is for, since a saturated proxy on the agent's loop delays gossip acks until peers suspect
 * the host (test/integration/router-starvation.test.ts fails this way).
 */
export function createInlineDataPlane (init: DataPlaneThreadInit, components: { logger: Logger }): DataPlaneThread {
  const events = new EventEmitter()
  const { certKey, ca, logLevel: _level, logBase, statsIntervalMs, ...dpInit } = init
  const dp = setupDataPlane({ init: dpInit, certKey, ca }, { logger: components.logger.child({ ...logBase, thread: 'inline' }), codec: createCodec() })
  dp.on('autostart', (req) => { events.emit('autostart', req) })
  dp.on('listener', (state) => { events.emit('listener', state) })
  let stats: NodeJS.Timeout | undefined
  let started = false
  return {
    async start () {
      if (started) return
      started = true
      await dp.start()
      stats = setInterval(() => {
        events.emit('stats', dp.stats())
        const errors = dp.takeRouterErrors()
        if (errors.length > 0) events.emit('router-errors', errors)
      }, statsIntervalMs ?? 250)
    },
    async stop () {
      clearInterval(stats)
      stats = undefined
      started = false
      await dp.stop()
    },
    running: () => started,
    setRoutes (table) { dp.setRoutes(table) },
    async setBackhaul (spec) { return await dp.setBackhaul(spec) },
    async snapshot () { return dp.snapshot() },
    async metrics () { return dp.metrics() },
    on <E extends keyof DataPlaneThreadEvents>(event: E, fn: DataPlaneThreadEvents[E]) {
      events.on(event, fn as (...args: unknown[]) => void)
      return () => { events.off(event, fn as (...args: unknown[]) => void) }
    }
  }
}
