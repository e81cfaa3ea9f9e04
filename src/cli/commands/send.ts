import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { InvalidArgumentError } from '../../errors/errors.js'
import { defaultDataDir, parseIntOption } from '../config.js'
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
        const result = await callAgent(opts.dataDir, async api => await api.send(target, parsed, { timeoutMs: parseIntOption(opts.timeout, '--timeout', 1) }))
        if (opts.json === true) printJson(result)
        else printJson(result.reply)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
