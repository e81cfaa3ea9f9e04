import 'reflect-metadata'
import { parentPort, workerData } from 'node:worker_threads'
import { createCodec } from '../codec/codec.js'
import { createLogger } from '../log/logger.js'
import type { DataPlaneWorkerData, FromDataPlane, ToDataPlane } from './data-plane-messages.js'
import { setupDataPlane } from './data-plane-setup.js'

// The data plane's own thread: an event loop that does nothing but proxy, so a saturated proxy
// never delays the agent's gossip (whose acks would then arrive late and make this host suspect).
const data = workerData as DataPlaneWorkerData
const port = parentPort
if (port === null) throw new Error('data-plane-worker must run as a worker thread')
const post = (m: FromDataPlane): void => { port.postMessage(m) }
const logger = createLogger({ level: data.logLevel, base: data.logBase })
const dp = setupDataPlane(data, { logger, codec: createCodec() })
dp.on('autostart', (req) => { post({ t: 'autostart', ...req }) })
dp.on('listener', (state) => { post({ t: 'listener', state }) })
const stats = setInterval(() => {
  post({ t: 'stats', stats: dp.stats() })
  const errors = dp.takeRouterErrors()
  if (errors.length > 0) post({ t: 'router-errors', errors })
}, data.statsIntervalMs)

port.on('message', (m: ToDataPlane) => {
  const reply = (id: number, p: Promise<unknown>): void => {
    p.then(value => { post({ t: 'reply', id, value }) }, (err: Error) => { post({ t: 'reply', id, error: err.message }) })
  }
  switch (m.t) {
    case 'routes':
      dp.setRoutes(m.table)
      return
    case 'backhaul':
      reply(m.id, dp.setBackhaul(m.spec))
      return
    case 'snapshot':
      reply(m.id, Promise.resolve(dp.snapshot()))
      return
    case 'metrics':
      reply(m.id, Promise.resolve(dp.metrics()))
      return
    case 'stop':
      clearInterval(stats)
      reply(m.id, dp.stop().then(() => { port.close() }))
  }
})

dp.start().then(() => { post({ t: 'ready' }) }, (err: Error) => { logger.fatal({ err }, 'data plane failed to start'); process.exit(1) })
