import HyperDHT from 'hyperdht'
import type { Logger } from '../log/logger.js'

import { DEFAULT_DHT_HOST, DEFAULT_DHT_PORT } from './defaults.js'

export { DEFAULT_DHT_HOST, DEFAULT_DHT_PORT, parseBootstrap } from './defaults.js'

export interface DhtBootstrapInit {
  host?: string
  port?: number
}

export interface DhtBootstrap {
  start: () => Promise<void>
  stop: () => Promise<void>
  address: () => { host: string, port: number }
}

/**
 * A hyperdht bootstrap node: the rendezvous agents use to find the cluster topic. It holds no
 * cluster state; any number can run, and agents take a list.
 */
export function createDhtBootstrap (init: DhtBootstrapInit, components: { logger: Logger }): DhtBootstrap {
  const host = init.host ?? DEFAULT_DHT_HOST
  const port = init.port ?? DEFAULT_DHT_PORT
  let node: HyperDHT | undefined
  return {
    async start () {
      if (node !== undefined) return
      // bootstrapper() announces `host` but binds 0.0.0.0 unless it is also given as an option.
      node = HyperDHT.bootstrapper(port, host, { firewalled: false, host })
      await node.ready()
      components.logger.info({ host, port: node.address().port }, 'dht bootstrap node listening')
    },
    async stop () {
      const n = node
      node = undefined
      await n?.destroy()
    },
    address () {
      if (node === undefined) return { host, port }
      return { host, port: node.address().port }
    }
  }
}

