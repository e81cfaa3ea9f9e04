import { EventEmitter } from 'node:events'
import type { Worker } from 'node:worker_threads'
import { ProxyError } from './errors.js'
import type { Logger } from '../log/logger.js'
import type { DataPlaneEvents, DataPlaneInit } from './data-plane.js'
import type { DataPlaneSnapshot, DataPlaneStats, DataPlaneWorkerData, FromDataPlane, RouterErrorReport, ToDataPlane } from './data-plane-messages.js'
import type { RouteTable } from './route-table.js'
import type { RouterMetricsSnapshot } from './router-counters.js'
import type { CaMaterial } from './tls/dev-ca.js'
import { startWorkerModule } from '../threads/worker-module.js'

export interface DataPlaneThreadInit extends DataPlaneInit {
  certKey: Buffer
  ca: CaMaterial | null
  logLevel: string
  logBase: Record<string, unknown>
  /** How often the thread reports its load figures (ms). */
  statsIntervalMs?: number
}

export interface DataPlaneThreadEvents extends DataPlaneEvents {
  stats: (stats: DataPlaneStats) => void
  /** Router errors due for the event stream (per app and code, rate-limited in the thread). */
  'router-errors': (errors: RouterErrorReport[]) => void
  /** The thread died (it is not restarted here; the owner decides). */
  exit: (err: Error) => void
}

/** The data plane on its own worker thread, driven by messages; the agent's side of it. */
export interface DataPlaneThread {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Whether the thread was started (it may still be loading: messages posted meanwhile wait for it) and has not exited. */
  running: () => boolean
  setRoutes: (table: RouteTable) => void
  setBackhaul: (spec: { address: string, port: number, checkSource: boolean } | null) => Promise<{ address: string, port: number } | null>
  snapshot: () => Promise<DataPlaneSnapshot>
  /** The data plane's metrics counters (one message each way, on scrape). */
  metrics: () => Promise<RouterMetricsSnapshot>
  /** Subscribes to the thread's events; returns the unsubscribe (the thread outlives its owner's restarts). */
  on: <E extends keyof DataPlaneThreadEvents>(event: E, fn: DataPlaneThreadEvents[E]) => () => void
}

const REPLY_TIMEOUT_MS = 10_000

/** The thread, on data-plane-worker.ts beside this module. */
function startWorker (data: DataPlaneWorkerData): Worker {
  return startWorkerModule(import.meta.url, 'data-plane-worker', { workerData: data })
}

export function createDataPlaneThread (init: DataPlaneThreadInit, components: { logger: Logger }): DataPlaneThread {
  const events = new EventEmitter()
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>()
  let worker: Worker | undefined
  let nextId = 1
  let stopping = false

  const call = async (m: ToDataPlane & { id: number }): Promise<unknown> => {
    const w = worker
    if (w === undefined) throw new ProxyError('the data plane is not running')
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { pending.delete(m.id); reject(new ProxyError(`data plane did not answer ${m.t} in ${REPLY_TIMEOUT_MS} ms`)) }, REPLY_TIMEOUT_MS)
      pending.set(m.id, { resolve, reject, timer })
      w.postMessage(m)
    })
  }

  return {
    async start () {
      if (worker !== undefined) return
      const { certKey, ca, logLevel, logBase, statsIntervalMs, ...dp } = init
      const w = startWorker({ init: dp, certKey, ca, logLevel, logBase, statsIntervalMs: statsIntervalMs ?? 250 })
      worker = w
      await new Promise<void>((resolve, reject) => {
        const onExit = (code: number): void => { reject(new ProxyError(`data plane thread exited with ${code} while starting`)) }
        w.once('exit', onExit)
        w.once('error', reject)
        w.on('message', (m: FromDataPlane) => {
          switch (m.t) {
            case 'ready':
              w.off('exit', onExit)
              w.off('error', reject)
              resolve()
              return
            case 'reply': {
              const p = pending.get(m.id)
              if (p === undefined) return
              pending.delete(m.id)
              clearTimeout(p.timer)
              if (m.error !== undefined) p.reject(new ProxyError(m.error))
              else p.resolve(m.value)
              return
            }
            case 'stats':
              events.emit('stats', m.stats)
              return
            case 'autostart':
              events.emit('autostart', { app: m.app, service: m.service, reason: m.reason })
              return
            case 'listener':
              events.emit('listener', m.state)
              return
            case 'router-errors':
              events.emit('router-errors', m.errors)
          }
        })
      })
      w.on('error', (err) => { components.logger.error({ err }, 'data plane thread failed') })
      w.on('exit', (code) => {
        worker = undefined
        for (const p of pending.values()) { clearTimeout(p.timer); p.reject(new ProxyError('data plane thread exited')) }
        pending.clear()
        if (!stopping) events.emit('exit', new ProxyError(`data plane thread exited with ${code}`))
      })
    },
    async stop () {
      const w = worker
      if (w === undefined) return
      stopping = true
      await call({ t: 'stop', id: nextId++ }).catch(() => {})
      await w.terminate()
      worker = undefined
    },
    running: () => worker !== undefined,
    setRoutes (table) { worker?.postMessage({ t: 'routes', table } satisfies ToDataPlane) },
    async setBackhaul (spec) { return await call({ t: 'backhaul', id: nextId++, spec }) as { address: string, port: number } | null },
    async snapshot () { return await call({ t: 'snapshot', id: nextId++ }) as DataPlaneSnapshot },
    async metrics () { return await call({ t: 'metrics', id: nextId++ }) as RouterMetricsSnapshot },
    on (event, fn) {
      events.on(event, fn as (...args: unknown[]) => void)
      return () => { events.off(event, fn as (...args: unknown[]) => void) }
    }
  }
}
