import type { AppRoute, MachineRoute, RouteTable } from '../../src/proxy/route-table.js'

const UNKNOWN_RTT_MS = 250

/**
 * The machine to wake for an app that has none running (or only overloaded ones): a stopped or
 * suspended one that is not cordoned, on a live host, the closest first (this host, this
 * region, then by RTT), suspended before stopped (a resume is faster than a boot). None while
 * one is already starting (another router may have woken it): that one is the capacity asked for.
 */
export function machineToStart (table: RouteTable, app: AppRoute, exclude: ReadonlySet<string>): MachineRoute | undefined {
  const live = (m: MachineRoute): boolean => m.local || table.hosts[m.host]?.state === 'alive'
  if (app.machines.some(m => (m.state === 'starting' || m.state === 'replacing') && live(m))) return undefined
  const candidates = app.machines.filter(m =>
    (m.state === 'stopped' || m.state === 'suspended' || m.state === 'created') && !m.cordoned && !exclude.has(m.id) && live(m))
  const key = (m: MachineRoute): number[] => [
    m.local ? 0 : m.region === table.region ? 1 : 2,
    m.local ? 0 : Math.floor((table.hosts[m.host]?.rttMs ?? UNKNOWN_RTT_MS) / 5),
    m.state === 'suspended' ? 0 : 1
  ]
  return candidates.sort((a, b) => {
    const ka = key(a)
    const kb = key(b)
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number)
    return a.id < b.id ? -1 : 1
  })[0]
}
