/** Default UDP port of `roost dht` and of agents' `--bootstrap`. */
export const DEFAULT_DHT_PORT = 49737
export const DEFAULT_DHT_HOST = '127.0.0.1'

/** Parses `host:port[,host:port…]`. */
export function parseBootstrap (value: string): Array<{ host: string, port: number }> {
  return value.split(',').map(s => s.trim()).filter(s => s.length > 0).map(s => {
    const i = s.lastIndexOf(':')
    const port = Number(s.slice(i + 1))
    if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new TypeError(`bootstrap '${s}' must be host:port`)
    return { host: s.slice(0, i), port }
  })
}

/**
 * The `port` option to give hyperdht for a UDP port, where 0 means any free port. hyperdht
 * replaces a falsy port with its default (`opts.port || 49737`), which is also the default
 * bootstrap port, so 0 goes as dht-rpc's port range [0, 0]: no port of the range is tried and
 * an ephemeral one is bound.
 */
export function dhtPortOption (port: number): number | [number, number] {
  return port === 0 ? [0, 0] : port
}
