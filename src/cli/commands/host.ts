import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { defaultDataDir, parseIntOption } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'

interface HostOptions { dataDir: string, json?: boolean, wait?: boolean, timeout: string }

const DRAIN_POLL_MS = 500

/** `roost host drain|undrain|status <host>`: move a host's machines away before maintenance. */
export function registerHostCommand (program: Command): void {
  const host = program.command('host').description('operate on one host of the cluster (by name, id prefix or "local")')
  const common = (c: Command): Command => c
    .option('--data-dir <dir>', 'data dir of the local agent to send through', defaultDataDir())
    .option('--json', 'print JSON')

  const drain = async (name: string, draining: boolean, opts: HostOptions): Promise<void> => {
    const timeoutMs = parseIntOption(opts.timeout, '--timeout', 1) * 1000
    await callAgent(opts.dataDir, async api => {
      const sent = await api.send(`${name}/agent/failover`, { type: 'failover.drain', draining }, { timeoutMs: 10_000 })
      let reply = sent.reply as { draining: boolean, machines: number }
      process.stderr.write(`${name}: ${draining ? `draining, ${reply.machines} machine(s) to move` : 'no longer draining'}\n`)
      if (draining && opts.wait === true) {
        const deadline = Date.now() + timeoutMs
        for (;;) {
          const status = (await api.send(`${name}/agent/failover`, { type: 'failover.status' }, { timeoutMs: 10_000 })).reply as { evacuated: number, evacuating: string | null }
          const rows = await api.state('machines')
          const left = rows.filter(r => !r.deleted && r.data !== null && r.owner === sent.host).length
          if (left === 0) break
          if (Date.now() > deadline) throw new Error(`${name} still holds ${left} machine(s) after ${opts.timeout} s (moving ${status.evacuating ?? 'none'})`)
          await new Promise(resolve => setTimeout(resolve, DRAIN_POLL_MS))
        }
        reply = { draining: true, machines: 0 }
        process.stderr.write(`${name}: drained\n`)
      }
      if (opts.json === true) printJson({ host: sent.host, ...reply })
    })
  }

  common(host.command('drain'))
    .description('stop placing machines on a host and move its machines to others, one by one (each new copy started and passing its checks before the old one goes)')
    .argument('<host>', 'the host: a name, an id (prefix) or "local"')
    .option('--wait', 'return once the host holds no machines')
    .option('--timeout <seconds>', 'with --wait: how long to wait', '600')
    .action(async (name: string, opts: HostOptions) => {
      try { await drain(name, true, opts) } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
  common(host.command('undrain'))
    .description('let placement and failover use a drained host again')
    .argument('<host>', 'the host: a name, an id (prefix) or "local"')
    .action(async (name: string, opts: HostOptions) => {
      try { await drain(name, false, { ...opts, timeout: '1' }) } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
  common(host.command('status'))
    .description('a host\'s failover state: fence, draining, machines replaced and evacuated')
    .argument('<host>', 'the host: a name, an id (prefix) or "local"')
    .action(async (name: string, opts: HostOptions) => {
      try {
        const r = await callAgent(opts.dataDir, async api => await api.send(`${name}/agent/failover`, { type: 'failover.status' }, { timeoutMs: 10_000 }))
        const s = r.reply as Record<string, unknown>
        if (opts.json === true) { printJson({ host: r.host, ...s }); return }
        printTable(['HOST', 'FENCE', 'DRAINING', 'REPLACED', 'EVACUATED', 'MOVING'], [[r.host.slice(0, 12), String(s.fence), String(s.draining), String(s.replaced), String(s.evacuated), String(s.evacuating ?? '-')]])
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
