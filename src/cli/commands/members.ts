import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { defaultDataDir } from '../config.js'
import { ago, printJson, printTable, reportError } from '../output.js'

export function registerMembersCommand (program: Command): void {
  program.command('members')
    .description('list the hosts of the cluster as the local agent sees them')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      try {
        const members = await callAgent(opts.dataDir, async api => await api.members())
        if (opts.json === true) {
          printJson(members)
          return
        }
        printTable(['NAME', 'HOST ID', 'STATE', 'INC', 'REGION', 'RTT', 'PATH', 'VERSION', 'ADDRESSES', 'SINCE'],
          members.map(m => [
            `${m.name === '' ? '-' : m.name}${m.self ? ' *' : ''}`,
            m.hostId.slice(0, 12),
            m.state,
            String(m.incarnation),
            m.region === '' ? '-' : m.region,
            m.self ? '-' : m.rttMs === null ? '?' : `${m.rttMs.toFixed(2)}ms`,
            m.self ? '-' : m.path,
            m.version === '' ? '-' : m.version,
            m.addresses.join(',') || '-',
            m.changedAt === 0 ? '-' : ago(m.changedAt)
          ]))
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
