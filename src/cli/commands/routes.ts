import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { defaultDataDir } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'
import type { RoutesView } from '../../proxy/data-plane-view.js'

function counters (c: Record<string, number>): string {
  const keys = Object.keys(c).sort()
  return keys.length === 0 ? '-' : keys.map(k => `${k}=${c[k] ?? 0}`).join(' ')
}

export function registerRoutesCommand (program: Command): void {
  program.command('routes')
    .description('the local router: listeners, apps with their ports and machines (load, health), answers per result code')
    .argument('[app]', 'only this app')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (app: string | undefined, opts: { dataDir: string, json?: boolean }) => {
      try {
        const result = await callAgent(opts.dataDir, async api => await api.send('local/agent/router', { type: 'router.routes', ...(app === undefined ? {} : { app }) }, { timeoutMs: 10_000 }))
        const view = result.reply as RoutesView
        if (opts.json === true) { printJson(view); return }
        const out = process.stdout
        out.write(`router on ${view.host.slice(0, 12)} (region ${view.region}, domain ${view.domain}); backhaul ${view.backhaul.address === null ? 'not listening' : `${view.backhaul.address.address}:${view.backhaul.address.port}`} (${view.backhaul.mode}, accepted ${view.backhaul.accepted}, refused ${view.backhaul.refused}, open ${view.backhaul.open}); ${view.connections} client connections, ${view.pool.idle} idle machine connections, ${view.waiting} waiting\n\nLISTENERS\n`)
        printTable(['PORT', 'ADDRESS', 'TLS', 'HTTP', 'STATE', 'APPS'], view.listeners.map(l => [String(l.port), l.address, l.tls ? 'yes' : 'no', l.http ? 'yes' : 'no', l.error === null ? l.state : `${l.state} (${l.error})`, l.apps.join(',')]))
        for (const a of view.apps) {
          out.write(`\nAPP ${a.app}  ${a.hostnames.join(', ')}\n`)
          out.write(`  ports: ${a.ports.map(p => `${p.port}→${p.internalPort} [${p.handlers.join(',') || 'tcp'}${p.forceHttps ? ',force_https' : ''}]`).join('  ') || '-'}\n`)
          if (a.concurrency !== null) out.write(`  concurrency: ${a.concurrency.type}, soft ${a.concurrency.softLimit}, hard ${a.concurrency.hardLimit}\n`)
          out.write(`  answers: ${counters(a.counters)}\n`)
          printTable(['  MACHINE', 'HOST', 'REGION', 'STATE', 'HEALTH', 'ROUTABLE', 'INFLIGHT', 'OTHERS'], a.machines.map(m => [
            `  ${m.id}`, m.hostName, m.region, m.cordoned ? `${m.state} (cordoned)` : m.state, m.health, m.routable ? 'yes' : 'no', String(m.inflight), String(m.remoteInflight)
          ]))
        }
        if (view.rejected.length > 0) {
          out.write('\nREJECTED ROWS\n')
          printTable(['TABLE', 'KEY', 'REASON'], view.rejected.map(r => [r.table, r.key, r.reason]))
        }
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
