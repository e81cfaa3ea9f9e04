import HyperDHT from 'hyperdht'
import type { Logger } from '../log/logger.js'

/** Default UDP port of `roost dht` and of agents' `--bootstrap`. */
export const DEFAULT_DHT_PORT = 49737
export const DEFAULT_DHT_HOST = '127.0.0.1'

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
      node = HyperDHT.bootstrapper(port, host, { firewalled: false })
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

/** Parses `host:port[,host:port…]`. */
export function parseBootstrap (value: string): Array<{ host: string, port: number }> {
  return value.split(',').map(s => s.trim()).filter(s => s.length > 0).map(s => {
    const i = s.lastIndexOf(':')
    const port = Number(s.slice(i + 1))
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new TypeError(`bootstrap '${s}' must be host:port`)
    return { host: s.slice(0, i), port }
  })
}
