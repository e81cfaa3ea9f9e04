import type { Command } from 'commander'
import { connectControl } from '../../api/control-client.js'
import { InvalidArgumentError } from '../../errors/errors.js'
import { defaultDataDir, parseIntOption, socketPathFor } from '../config.js'
import { printJson, reportError } from '../output.js'

export function registerSendCommand (program: Command): void {
  program.command('send')
    .description('deliver a message to an actor on any host and print its reply')
    .argument('<target>', '<host>/<actor-path>: host is a name, an id (prefix) or "local", e.g. h2/agent')
    .argument('<message>', 'the message as JSON, with its "type", e.g. \'{"type":"agent.ping"}\'')
    .option('--timeout <ms>', 'how long to wait for the reply', '5000')
    .option('--data-dir <dir>', 'data dir of the local agent to send through', defaultDataDir())
    .option('--json', 'print the whole result (host, path, type, reply, elapsedMs) as JSON')
    .action(async (target: string, message: string, opts: { timeout: string, dataDir: string, json?: boolean }) => {
      try {
        let parsed: unknown
        try {
          parsed = JSON.parse(message)
        } catch (err) {
          throw new InvalidArgumentError(`message is not JSON: ${(err as Error).message}`)
        }
        const client = await connectControl(socketPathFor(opts.dataDir))
        try {
          const result = await client.call(async api => await api.send(target, parsed, { timeoutMs: parseIntOption(opts.timeout, '--timeout', 1) }))
          if (opts.json === true) printJson(result)
          else printJson(result.reply)
        } finally { client.close() }
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
