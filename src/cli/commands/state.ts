import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { defaultDataDir } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'

export function registerStateCommand (program: Command): void {
  program.command('state')
    .description('dump the local agent\'s replica of a cluster table')
    .argument('<table>', 'hosts, machines, services, wireguard, routers, certs or acme')
    .option('--deleted', 'include tombstones')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (table: string, opts: { dataDir: string, json?: boolean, deleted?: boolean }) => {
      try {
        const rows = await callAgent(opts.dataDir, async api => await api.state(table, { includeDeleted: opts.deleted === true }))
        if (opts.json === true) {
          printJson(rows)
          return
        }
        printTable(['KEY', 'OWNER', 'VERSION', 'FLAGS', 'DATA'], rows.map(r => [
          r.key.length > 24 ? `${r.key.slice(0, 12)}…` : r.key,
          r.owner.slice(0, 12),
          String(r.version),
          [r.deleted ? 'deleted' : '', r.ownerDead ? 'owner-dead' : ''].filter(f => f !== '').join(',') || '-',
          r.data === null ? '-' : JSON.stringify(r.data)
        ]))
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
