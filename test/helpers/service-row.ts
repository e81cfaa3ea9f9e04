/** A valid `services` row (src/gossip/rows.ts ServiceRowSchema) for tests that need one: one service, one public port. */
export function serviceRow (app: string, port = 443, handlers: Array<'tls' | 'http' | 'proxy_proto'> = ['tls', 'http']): Record<string, unknown> {
  return {
    app,
    deployVersion: 1,
    primaryRegion: null,
    hostnames: [],
    services: [{
      protocol: 'tcp',
      internalPort: 8080,
      ports: [{ port, handlers, forceHttps: false, proxyProtoVersion: 1 }],
      concurrency: { type: 'connections', softLimit: 20, hardLimit: 25 },
      autoStopMachines: 'off',
      autoStartMachines: true,
      minMachinesRunning: 0
    }],
    updatedAt: 0
  }
}
