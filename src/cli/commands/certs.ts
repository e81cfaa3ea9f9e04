import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { InvalidArgumentError } from '../../errors/errors.js'
import type { AcmeIssueBody } from '../../acme/acme-messages.js'
import type { CertsAddBody, CertsAddReply, CertsListReply, CertsRmReply, CertView } from '../../proxy/tls/cert-messages.js'
import { defaultDataDir, parseIntOption } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'

const ROUTER = 'local/agent/router'
const ACME = 'local/agent/acme'
const ACME_TIMEOUT_MS = '180000'

interface CommonOpts { dataDir: string, timeout?: string, json?: boolean }

interface AddOpts { app?: string, cert?: string, key?: string, acme?: string | boolean }

/**
 * `roost certs add <hostname> [--app A]`, or `roost certs add <app> <hostname>` as the issue wrote
 * it: with two arguments the first is the app (and --app may not say otherwise).
 */
export function certsAddTarget (first: string, second: string | undefined, opts: AddOpts): { hostname: string, app?: string } {
  if (second === undefined) return { hostname: first, ...(opts.app === undefined ? {} : { app: opts.app }) }
  if (opts.app !== undefined && opts.app !== first) throw new InvalidArgumentError(`two apps given: '${first}' (argument) and --app ${opts.app}`)
  return { hostname: second, app: first }
}

/** The `acme.issue` message for `roost certs add --acme [directory]`. */
export function acmeIssueMessage (hostname: string, opts: AddOpts): { type: 'acme.issue' } & AcmeIssueBody {
  if (opts.cert !== undefined || opts.key !== undefined) throw new InvalidArgumentError('--acme obtains the certificate and its key: --cert and --key do not go with it')
  const msg: { type: 'acme.issue' } & AcmeIssueBody = { type: 'acme.issue', hostname }
  if (opts.app !== undefined) msg.app = opts.app
  if (typeof opts.acme === 'string') {
    if (!/^https?:\/\//.test(opts.acme)) throw new InvalidArgumentError(`--acme ${opts.acme}: the directory is an http(s) URL`)
    msg.directory = opts.acme
  }
  return msg
}

/** The `router.certs-add` message for `roost certs add`, reading the PEM files when given. */
export async function certsAddMessage (hostname: string, opts: { app?: string, cert?: string, key?: string }): Promise<{ type: 'router.certs-add' } & CertsAddBody> {
  if ((opts.cert === undefined) !== (opts.key === undefined)) throw new InvalidArgumentError('--cert and --key go together: give both, or neither to have this host\'s CA issue one')
  const msg: { type: 'router.certs-add' } & CertsAddBody = { type: 'router.certs-add', hostname }
  if (opts.app !== undefined) msg.app = opts.app
  if (opts.cert !== undefined && opts.key !== undefined) {
    msg.certPem = await readPem(opts.cert, '--cert')
    msg.keyPem = await readPem(opts.key, '--key')
  }
  return msg
}

/** The `roost certs list` table. */
export function printCertsTable (certs: CertView[], now = Date.now()): void {
  printTable(['HOSTNAME', 'APP', 'SOURCE', 'EXPIRES', 'ISSUER', 'FINGERPRINT'], certs.map(c => [
    c.hostname,
    c.app ?? '-',
    c.source,
    c.error !== null ? `unreadable: ${c.error}` : `${new Date(c.notAfter).toISOString().slice(0, 10)}${c.expired ? ' (expired)' : ` (in ${Math.round((c.notAfter - now) / 86_400_000)}d)`}`,
    c.issuer ?? '-',
    c.fingerprint === null ? '-' : `${c.fingerprint.slice(0, 23)}…`
  ]))
}

async function readPem (file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new InvalidArgumentError(`${option} ${file}: ${(err as Error).message}`)
  }
}

async function sendToRouter (opts: CommonOpts, message: Record<string, unknown>, to = ROUTER, defaultTimeout = '10000'): Promise<unknown> {
  const timeoutMs = parseIntOption(opts.timeout ?? defaultTimeout, '--timeout', 1)
  const result = await callAgent(opts.dataDir, async api => await api.send(to, message, { timeoutMs }))
  return result.reply
}

export function registerCertsCommand (program: Command): void {
  const certs = program.command('certs').description('TLS certificates the routers serve, by hostname (SNI)')
  const common = (cmd: Command): Command => cmd
    .option('--timeout <ms>', 'how long to wait for the agent (default 10000; 180000 with --acme)')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')

  common(certs.command('add')
    .description('add a certificate for a hostname: the given PEM files, one from an ACME directory (--acme), or one issued by this host\'s CA')
    .argument('<hostname>', 'e.g. demo.example.com, or *.example.com for a wildcard; `<app> <hostname>` names the app too')
    .argument('[hostname]', 'with two arguments, the first is the app and this the hostname')
    .option('--app <app>', 'the app the hostname belongs to')
    .option('--cert <file>', 'certificate PEM (the leaf first, then intermediates)')
    .option('--key <file>', 'its private key PEM (unencrypted)')
    .option('--acme [directory-url]', 'obtain it from an ACME directory by http-01 (default: the agent\'s --acme-directory, Let\'s Encrypt); renewed automatically'))
    .action(async (first: string, second: string | undefined, opts: CommonOpts & AddOpts) => {
      try {
        const target = certsAddTarget(first, second, opts)
        const add = { ...opts, ...(target.app === undefined ? {} : { app: target.app }) }
        const reply = (opts.acme !== undefined && opts.acme !== false
          ? await sendToRouter(opts, acmeIssueMessage(target.hostname, add), ACME, ACME_TIMEOUT_MS)
          : await sendToRouter(opts, await certsAddMessage(target.hostname, add))) as CertsAddReply
        if (opts.json === true) printJson(reply)
        else process.stdout.write(`${reply.replaced ? 'replaced' : 'added'} ${reply.cert.hostname} (${reply.cert.source}, expires ${new Date(reply.cert.notAfter).toISOString()}, sha256 ${reply.cert.fingerprint ?? '-'})\n`)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  common(certs.command('list').description('list the certificates of the cluster (never their keys)'))
    .action(async (opts: CommonOpts) => {
      try {
        const reply = await sendToRouter(opts, { type: 'router.certs-list' }) as CertsListReply
        if (opts.json === true) printJson(reply.certs)
        else printCertsTable(reply.certs)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  common(certs.command('rm')
    .description('remove the certificate of a hostname')
    .argument('<hostname>'))
    .action(async (hostname: string, opts: CommonOpts) => {
      try {
        const reply = await sendToRouter(opts, { type: 'router.certs-rm', hostname }) as CertsRmReply
        if (opts.json === true) printJson(reply)
        else process.stdout.write(`removed ${reply.hostname}\n`)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
