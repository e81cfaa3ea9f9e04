import type { Command } from 'commander'
import { defaultDataDir } from '../config.js'
import { printJson, reportError } from '../output.js'
import { resolveApiTarget } from './machines-target.js'

/**
 * The status page's address with the token in its fragment (`#token=…`: browsers keep the
 * fragment to themselves, so the token reaches no server log). An API listening on every
 * address is shown at loopback, where a browser on the same machine finds it.
 */
export function statusPageUrl (apiUrl: string, token: string): string {
  const url = new URL('/status', apiUrl)
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1'
  if (url.hostname === '[::]') url.hostname = '[::1]'
  url.hash = `token=${encodeURIComponent(token)}`
  return url.toString()
}

export function registerStatusPageCommand (program: Command): void {
  program.command('status-page')
    .description('print the address of the local agent\'s live status page (the API token is in the fragment: treat it like the token)')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--api <url>', 'the agent\'s API URL (default: ROOST_API_URL, else <data-dir>/agent.json)')
    .option('--token <token>', 'the API token (default: ROOST_API_TOKEN, else <data-dir>/api.token)')
    .option('--json', 'print JSON')
    .action((opts: { dataDir: string, api?: string, token?: string, json?: boolean }) => {
      try {
        const target = resolveApiTarget({ dataDir: opts.dataDir, ...(opts.api === undefined ? {} : { api: opts.api }), ...(opts.token === undefined ? {} : { token: opts.token }) })
        const url = statusPageUrl(target.url, target.token)
        if (opts.json === true) printJson({ url })
        else process.stdout.write(`${url}\n`)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
