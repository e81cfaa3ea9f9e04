import type { Codec } from '../codec/codec.js'
import type { Logger } from '../log/logger.js'
import { createDataPlane, type DataPlane } from './data-plane.js'
import type { DataPlaneWorkerData } from './data-plane-messages.js'
import type { RouteTable } from './route-table.js'
import { createCertStore } from './tls/cert-store.js'

/**
 * The data plane with its certificate store (SNI, on-demand leaves, ALPN by app), built from
 * what its thread is started with. The worker thread runs it; so does the agent itself when
 * told to keep the data plane inline (a test and diagnostic switch, see data-plane-inline.ts).
 */
export function setupDataPlane (data: Pick<DataPlaneWorkerData, 'init' | 'certKey' | 'ca'>, components: { logger: Logger, codec: Codec }): DataPlane {
  const { logger, codec } = components
  let table: RouteTable | undefined
  const certs = createCertStore({
    ...(data.ca === null ? {} : { ca: data.ca }),
    certKey: Buffer.from(data.certKey),
    domain: data.init.domain,
    alpn: (name) => {
      for (const app of Object.values(table?.apps ?? {})) {
        if (app.hostnames.includes(name)) return app.services.flatMap(s => s.ports.flatMap(p => p.tls ? p.alpn : [])).filter((p, i, all) => all.indexOf(p) === i)
      }
      return ['http/1.1']
    }
  }, { logger })
  const dp = createDataPlane({ ...data.init, backhaulKey: Buffer.from(data.init.backhaulKey) }, { logger, codec, certs })
  return {
    ...dp,
    setRoutes (t) {
      table = t
      dp.setRoutes(t)
    }
  }
}
