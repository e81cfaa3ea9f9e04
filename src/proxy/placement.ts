import type { Route } from './app-match.js'
import { pickMachines, type Candidate, type PickHints } from './balancer.js'
import type { ProxyContext } from './proxy-context.js'

/** What to do with a request or connection now. */
export type Placement =
  | { kind: 'go', candidate: Candidate }
  /** Wait: for capacity (every machine at its hard limit), or for a machine on its way up. */
  | { kind: 'wait', why: 'capacity' | 'autostart' }
  /** PR01: no machine at all; PR04: the machines left were all tried. */
  | { kind: 'fail', code: 'PR01' | 'PR04' }

/**
 * Where a request or connection goes, for the HTTP and TCP paths alike: the best candidate
 * (asking for another machine when every one is over its soft limit), or to wait for capacity
 * or an autostart (asking for one when a machine could be woken), or nothing to be done.
 */
export function place (ctx: ProxyContext, route: Route, hints: PickHints, exclude: ReadonlySet<string> | null): Placement {
  const { app, service } = route
  const pick = pickMachines({ table: ctx.table, app, service, inflight: ctx.loadOf, hints, ...(exclude === null ? {} : { exclude }) })
  if (pick.allOverSoft && service.autoStart && pick.startable > 0) ctx.requestAutostart(app.app, service.index, 'all-over-soft-limit')
  const candidate = pick.order[0]
  if (candidate !== undefined) return { kind: 'go', candidate }
  if (pick.atHardLimit) return { kind: 'wait', why: 'capacity' }
  if ((pick.startable > 0 || pick.transitioning > 0) && service.autoStart && hints.forceInstance === undefined) {
    if (pick.startable > 0) ctx.requestAutostart(app.app, service.index, 'no-started-machine')
    return { kind: 'wait', why: 'autostart' }
  }
  return { kind: 'fail', code: exclude === null ? 'PR01' : 'PR04' }
}
