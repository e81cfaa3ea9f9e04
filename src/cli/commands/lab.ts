import { resolve } from 'node:path'
import type { Command } from 'commander'
import { ConfigError } from '../../errors/errors.js'
import { parseIntOption } from '../config.js'
import { printTable, reportError } from '../output.js'

interface UpOptions { hosts: string, dir: string, wireguard?: string, driver?: string, logLevel: string }

function agentArgs (opts: UpOptions): string[] {
  const args: string[] = []
  if (opts.driver !== undefined) args.push('--driver', opts.driver)
  if (opts.wireguard !== undefined) {
    if (opts.wireguard !== 'on' && opts.wireguard !== 'off') throw new ConfigError(`--wireguard must be on or off, not '${opts.wireguard}'`)
    args.push('--wireguard', opts.wireguard)
  }
  return args
}

export function registerLabCommand (program: Command, binPath: string): void {
  const lab = program.command('lab').description('a multi-host lab on this machine: one network namespace and agent per host (root)')

  lab.command('up')
    .description('start N hosts, each in its own network namespace on a shared bridge, and wait (Ctrl-C tears it all down)')
    .option('--hosts <n>', 'number of hosts', '3')
    .option('--dir <dir>', 'where the hosts keep their data and logs', '.roost/lab')
    .option('--wireguard <on|off>', 'passed to every agent as --wireguard (only when given)')
    .option('--driver <driver>', 'VM driver of the agents (passed as --driver when given)')
    .option('--log-level <level>', 'agents\' log level (logs go to <dir>/<host>/agent.log)', 'info')
    .action(async (opts: UpOptions) => {
      const { createLogger } = await import('../../log/logger.js')
      const { createLab, labAvailable } = await import('../../lab/lab.js')
      const logger = createLogger({ level: 'warn', base: { role: 'lab' } })
      const dir = resolve(opts.dir)
      let current: ReturnType<typeof createLab> | undefined
      let stopping = false
      const shutdown = async (): Promise<void> => {
        if (stopping) return
        stopping = true
        if (current === undefined) return
        process.stdout.write('\ntearing the lab down…\n')
        await current.stop()
        process.stdout.write('all agents stopped, namespaces removed\n')
      }
      const onSignal = (): void => { shutdown().then(() => { process.exit(0) }, (err: unknown) => { process.exit(reportError(err, false)) }) }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        const available = labAvailable()
        if (!available.ok) throw new ConfigError(available.reason)
        const hosts = parseIntOption(opts.hosts, '--hosts', 1)
        const started = Date.now()
        current = createLab({ hosts, binPath, dir, logLevel: opts.logLevel, agentArgs: agentArgs(opts) }, { logger })
        process.stdout.write(`starting a lab of ${hosts} hosts in ${dir}\n`)
        await current.start()
        await current.waitForMembership()
        process.stdout.write(`\nlab ${current.id} ready in ${Date.now() - started} ms (DHT bootstrap ${current.bootstrap.host}:${current.bootstrap.port} in the bridge namespace)\n\n`)
        printTable(['NAME', 'NETNS', 'ADDRESS', 'DATA DIR', 'TRY'], current.hosts.map(h => [
          h.name, h.netns, h.address, h.dataDir, `roost members --data-dir ${h.dataDir}`
        ]))
        process.stdout.write(`\nshell in a host: ip netns exec ${current.hosts[0]?.netns ?? '<netns>'} bash\nlogs: ${dir}/<host>/agent.log — Ctrl-C tears everything down\n`)
        for (const h of current.hosts) {
          h.process?.once('exit', (code, signal) => {
            if (!stopping) process.stdout.write(`agent ${h.name} exited (${code ?? signal}); see ${h.logFile}\n`)
          })
        }
      } catch (err) {
        process.exitCode = reportError(err, false)
        await shutdown()
        process.exit(1)
      }
    })

  lab.command('clean')
    .description('remove the namespaces (and what runs in them) of labs whose owning process is gone')
    .action(async () => {
      const { createLogger } = await import('../../log/logger.js')
      const { sweepStaleLabs } = await import('../../lab/lab.js')
      try {
        const removed = await sweepStaleLabs(createLogger({ level: 'warn', base: { role: 'lab' } }))
        process.stdout.write(removed.length === 0 ? 'no stale lab namespaces\n' : `removed ${removed.length}: ${removed.join(' ')}\n`)
      } catch (err) { process.exitCode = reportError(err, false) }
    })
}
