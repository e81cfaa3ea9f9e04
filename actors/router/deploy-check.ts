import type { ServiceRowData } from '../../src/gossip/rows.js'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { compileRoutes } from '../../src/proxy/route-compile.js'

/**
 * Refuses a deploy whose ports or hostnames collide with other apps' (the same rule every
 * router applies to gossiped rows, so what is accepted here routes everywhere): a port is shared
 * only when every app on it terminates TLS, or all speak plain HTTP; a hostname has one app.
 */
export function checkDeploy (spec: ServiceRowData, others: readonly ServiceRowData[], domain: string): void {
  const row = (d: ServiceRowData, updatedAt: number) => ({ key: d.app, owner: '0'.repeat(64), data: { ...d, updatedAt } as Record<string, unknown>, deleted: false, ownerDead: false })
  const table = compileRoutes({
    version: 0,
    hostId: '0'.repeat(64),
    region: '',
    domain,
    services: [...others.map(o => row(o, 0)), row(spec, 1)],
    machines: [],
    routers: [],
    certs: [],
    members: []
  })
  const mine = table.rejected.filter(r => r.table === 'services' && r.key === spec.app)
  if (mine.length > 0) throw new InvalidArgumentError(`app ${spec.app} cannot be deployed: ${mine.map(r => r.reason).join('; ')}`, { app: spec.app, reasons: mine.map(r => r.reason) })
}
