import type { Command } from 'commander'
import { connectControl } from '../../api/control-client.js'
import { defaultDataDir, socketPathFor } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'

export function registerStateCommand (program: Command): void {
  program.command('state')
    .description('dump the local agent\'s replica of a cluster table')
    .argument('<table>', 'hosts, machines or services')
    .option('--deleted', 'include tombstones')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (table: string, opts: { dataDir: string, json?: boolean, deleted?: boolean }) => {
      try {
        const client = await connectControl(socketPathFor(opts.dataDir))
        try {
          const rows = await client.call(async api => await api.state(table, { includeDeleted: opts.deleted === true }))
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
        } finally { client.close() }
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
