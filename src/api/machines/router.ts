import { InvalidArgumentError } from '../../errors/errors.js'
import type { HttpMethod, RouteSpec } from './routes.js'

/** What the router made of a request line. */
export type RouteMatch =
  | { kind: 'found', route: RouteSpec, params: Record<string, string> }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed', allow: HttpMethod[] }

/** Finds the route of a method and path, table-driven. */
export interface Router {
  /** Throws InvalidArgumentError when a path parameter is not valid percent-encoding. */
  match: (method: string, pathname: string) => RouteMatch
}

interface Compiled {
  route: RouteSpec
  /** A literal segment, or `{ param }` for a parameter. */
  segments: Array<string | { param: string }>
}

function compile (route: RouteSpec): Compiled {
  const segments = route.path.split('/').slice(1).map(s => {
    const m = /^\{([a-z_]+)\}$/.exec(s)
    return m === null ? s : { param: m[1] ?? '' }
  })
  return { route, segments }
}

function decodeSegment (raw: string, name: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new InvalidArgumentError(`path parameter ${name} is not valid percent-encoding`, { errors: [{ in: 'path', path: `/${name}`, message: 'invalid percent-encoding' }] })
  }
}

/** A router over the given route table (segment by segment; parameters match any non-empty segment). */
export function createRouter (routes: readonly RouteSpec[]): Router {
  const compiled = routes.map(compile)
  return {
    match (method, pathname) {
      const parts = pathname.split('/').slice(1)
      const allow: HttpMethod[] = []
      for (const c of compiled) {
        if (c.segments.length !== parts.length) continue
        const raw: Record<string, string> = {}
        let ok = true
        for (let i = 0; i < parts.length && ok; i++) {
          const seg = c.segments[i]
          const part = parts[i] ?? ''
          if (seg === undefined || typeof seg === 'string') ok = seg === part
          else if (part.length === 0) ok = false
          else raw[seg.param] = part
        }
        if (!ok) continue
        if (c.route.method !== method) {
          if (!allow.includes(c.route.method)) allow.push(c.route.method)
          continue
        }
        const params: Record<string, string> = {}
        for (const [name, value] of Object.entries(raw)) params[name] = decodeSegment(value, name)
        return { kind: 'found', route: c.route, params }
      }
      return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' }
    }
  }
}
