import type { Command } from 'commander'
import { connectControl } from '../../api/control-client.js'
import { controlSocketPath } from '../../api/control-api.js'
import { InvalidArgumentError } from '../../errors/errors.js'
import { createEventsFeed, formatEvent, type EventsPage } from '../events-feed.js'
import { defaultDataDir, parseIntOption } from '../config.js'
import { reportError } from '../output.js'

interface EventsOptions { dataDir: string, follow?: boolean, host?: string, all?: boolean, since: string, json?: boolean }

/** How often `--follow` asks for new events (each host once per round). */
export const FOLLOW_POLL_MS = 500
const PAGE_SIZE = 500
const MAX_PAGES = 20
const ASK_TIMEOUT_MS = 5_000

/** `roost events`: a host's event stream (or every host's, merged by time), printed or followed. */
export function registerEventsCommand (program: Command): void {
  program.command('events')
    .description('show the events a host recorded: members joining, suspect, dead or leaving; machine state changes; placements; failovers; router errors')
    .option('--data-dir <dir>', 'data dir of the local agent to ask through', defaultDataDir())
    .option('-f, --follow', 'keep printing new events until interrupted')
    .option('--host <host>', 'whose events: a name, an id (prefix) or "local"', 'local')
    .option('--all', 'every member\'s events, merged by time')
    .option('--since <seq>', 'only events after this seq (of each host)', '0')
    .option('--json', 'print one JSON event per line')
    .action(async (opts: EventsOptions) => {
      let stop = (): void => {}
      try {
        const since = parseIntOption(opts.since, '--since', 0)
        if (opts.all === true && opts.host !== undefined && opts.host !== 'local') throw new InvalidArgumentError('--host and --all do not go together')
        const client = await connectControl(controlSocketPath(opts.dataDir))
        let running = true
        let wake = (): void => {}
        stop = () => { running = false; wake() }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        try {
          const feed = createEventsFeed({ pageSize: PAGE_SIZE, maxPages: MAX_PAGES, since, tolerant: opts.all === true }, {
            fetch: async (target, from, limit) => (await client.call(async api => await api.send(`${target}/agent`, { type: 'agent.events', since: from, limit }, { timeoutMs: ASK_TIMEOUT_MS }))).reply as EventsPage,
            warn: (line) => { process.stderr.write(`${line}\n`) }
          })
          const targets = async (): Promise<string[]> => {
            if (opts.all !== true) return [opts.host ?? 'local']
            const members = await client.call(async api => await api.members())
            return members.filter(m => m.self || m.state === 'alive' || m.state === 'suspect').map(m => m.self ? 'local' : m.hostId)
          }
          do {
            for (const e of await feed.poll(await targets())) process.stdout.write(`${opts.json === true ? JSON.stringify(e) : formatEvent(e)}\n`)
            if (opts.follow !== true || !running) break
            await new Promise<void>(resolve => { const t = setTimeout(resolve, FOLLOW_POLL_MS); wake = () => { clearTimeout(t); resolve() } })
          } while (running)
        } finally { client.close() }
      } catch (err) {
        process.exitCode = reportError(err, opts.json === true)
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    })
}
