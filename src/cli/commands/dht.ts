import type { Command } from 'commander'
import { DEFAULT_DHT_HOST, DEFAULT_DHT_PORT } from '../../dht/defaults.js'
import { parseIntOption } from '../config.js'
import { reportError } from '../output.js'

export function registerDhtCommand (program: Command): void {
  program.command('dht')
    .description('run a DHT bootstrap node in the foreground (agents pass it as --bootstrap)')
    .option('--host <ip>', 'address to bind', DEFAULT_DHT_HOST)
    .option('--port <udp>', 'UDP port', String(DEFAULT_DHT_PORT))
    .option('--log-level <level>', 'log level', 'info')
    .action(async (opts: { host: string, port: string, logLevel: string }) => {
      const { createLogger } = await import('../../log/logger.js')
      const { createDhtBootstrap } = await import('../../dht/bootstrap.js')
      const logger = createLogger({ level: opts.logLevel, base: { role: 'dht' } })
      try {
        const node = createDhtBootstrap({ host: opts.host, port: parseIntOption(opts.port, '--port', 1) }, { logger })
        await node.start()
        const a = node.address()
        process.stdout.write(`dht bootstrap listening on ${a.host}:${a.port}\n`)
        await new Promise<void>(resolve => {
          const done = (): void => { resolve() }
          process.once('SIGINT', done)
          process.once('SIGTERM', done)
        })
        await node.stop()
      } catch (err) {
        process.exitCode = reportError(err, false)
      }
    })
}
