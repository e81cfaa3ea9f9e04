import type { AppRoute, ListenerRoute, PortRoute, RouteTable, ServiceRoute } from './route-table.js'

/** The app, service and port handling a request or connection. */
export interface Route {
  app: AppRoute
  service: ServiceRoute
  port: PortRoute
}

/** `Example.COM:8080` → `example.com`; `[::1]:80` → `::1`. */
export function hostnameOf (host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return (end < 0 ? host.slice(1) : host.slice(1, end)).toLowerCase()
  }
  const colon = host.indexOf(':')
  return (colon < 0 ? host : host.slice(0, colon)).toLowerCase()
}

function matches (pattern: string, name: string): boolean {
  if (pattern === name) return true
  if (!pattern.startsWith('*.')) return false
  const dot = name.indexOf('.')
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2)
}

function routeOf (table: RouteTable, entry: { app: string, service: number }, port: number): Route | undefined {
  const app = table.apps[entry.app]
  const service = app?.services[entry.service]
  const p = service?.ports.find(x => x.port === port)
  return app === undefined || service === undefined || p === undefined ? undefined : { app, service, port: p }
}

/**
 * Which app a listener hands a request or connection to: the one whose hostnames match the
 * TLS server name or Host header; when the port has a single app, that app, whatever the name.
 */
export function matchApp (table: RouteTable, listener: ListenerRoute, hostname: string | null): Route | undefined {
  const only = listener.apps.length === 1 ? listener.apps[0] : undefined
  if (hostname !== null && hostname !== '') {
    for (const entry of listener.apps) {
      const app = table.apps[entry.app]
      if (app !== undefined && app.hostnames.some(h => matches(h, hostname))) return routeOf(table, entry, listener.port)
    }
  }
  return only === undefined ? undefined : routeOf(table, only, listener.port)
}
