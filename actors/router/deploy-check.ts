import type { ServiceRowData } from '../../src/gossip/rows.js'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { compileRoutes, type RowInput } from '../../src/proxy/route-compile.js'

/**
 * Refuses a deploy whose ports or hostnames collide with other apps' (the same rule every
 * router applies to gossiped rows, so what is accepted here routes everywhere): a port is shared
 * only when every app on it terminates TLS, or all speak plain HTTP; a hostname has one app.
 * `row` is the services row about to be written (its times included: the earlier app keeps a
 * port); `others` are the `services` rows as the replica holds them, under their own keys (a row
 * the routers reject claims nothing); the app's own current row among them is ignored.
 */
export function checkDeploy (row: ServiceRowData, others: readonly RowInput[], domain: string): void {
  const host = '0'.repeat(64)
  const table = compileRoutes({
    version: 0,
    hostId: host,
    region: '',
    domain,
    services: [...others.filter(r => r.key !== row.app), { key: row.app, owner: host, data: row, deleted: false, ownerDead: false }],
    machines: [],
    routers: [],
    certs: [],
    members: []
  })
  const mine = table.rejected.filter(r => r.table === 'services' && r.key === row.app)
  if (mine.length > 0) throw new InvalidArgumentError(`app ${row.app} cannot be deployed: ${mine.map(r => r.reason).join('; ')}`, { app: row.app, reasons: mine.map(r => r.reason) })
}
