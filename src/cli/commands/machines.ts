import { Option, type Command } from 'commander'
import { createMachinesClient, type MachinesClient } from '../../api/machines/client.js'
import { MACHINE_STATES, type CreateMachineRequest, type MachineConfig, type MachineState, type MachineView } from '../../api/machines/schemas.js'
import { AgentUnavailableError, ConfigError } from '../../errors/errors.js'
import { defaultDataDir, parseIntOption } from '../config.js'
import { printJson, reportError } from '../output.js'
import { printMachineStatus, printMachineTable } from './machines-output.js'
import { resolveApiTarget, type ApiTargetOptions } from './machines-target.js'

const DEFAULT_INTERNAL_PORT = '8080'
const RUN_WAIT_MS = 60_000

interface CommonOptions extends ApiTargetOptions {
  app: string
  json?: boolean
}

interface RunOptions extends CommonOptions {
  name?: string
  env: string[]
  port: string
  cpus?: string
  memory?: string
  restart?: 'no' | 'always' | 'on-failure'
  maxRetries?: string
  checkHttp?: string
  driver?: 'qemu' | 'process'
  host?: string
  skipLaunch?: boolean
  wait?: boolean
  fromSnapshot?: boolean
}

function withCommonOptions (cmd: Command): Command {
  return cmd
    .requiredOption('--app <app>', 'app the machine belongs to')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data dir of the local agent (where its agent.json and api.token are)', defaultDataDir())
    .option('--api <url>', 'Machines API URL (default: ROOST_API_URL, else the agent\'s agent.json)')
    .option('--token <token>', 'Machines API token (default: ROOST_API_TOKEN, else <data dir>/api.token)')
}

/** Runs `fn` with a client for the resolved API; errors go to stderr with exit code 1. */
async function withClient (opts: CommonOptions, fn: (client: MachinesClient) => Promise<void>): Promise<void> {
  let source: string | undefined
  try {
    const target = resolveApiTarget(opts)
    source = target.source
    await fn(createMachinesClient({ url: target.url, token: target.token }))
  } catch (err) {
    const stale = err instanceof AgentUnavailableError && source === 'agent.json'
    const shown = stale ? new AgentUnavailableError(`${err.message}; is 'roost agent start' running with data dir ${opts.dataDir}?`, err.details) : err
    process.exitCode = reportError(shown, opts.json === true)
  }
}

function parseEnv (pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new ConfigError(`--env takes KEY=VALUE, not '${pair}'`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}

/** The create request `roost machines run` sends. */
export function runRequest (image: string, opts: Omit<RunOptions, keyof CommonOptions>): CreateMachineRequest {
  const config: MachineConfig = { image, services: [{ protocol: 'tcp', internal_port: parseIntOption(opts.port, '--port', 1) }] }
  const env = parseEnv(opts.env)
  if (env !== undefined) config.env = env
  if (opts.cpus !== undefined || opts.memory !== undefined) {
    config.guest = {
      ...(opts.cpus === undefined ? {} : { cpus: parseIntOption(opts.cpus, '--cpus', 1) }),
      ...(opts.memory === undefined ? {} : { memory_mb: parseIntOption(opts.memory, '--memory', 1) })
    }
  }
  if (opts.restart !== undefined || opts.maxRetries !== undefined) {
    config.restart = {
      policy: opts.restart ?? 'on-failure',
      ...(opts.maxRetries === undefined ? {} : { max_retries: parseIntOption(opts.maxRetries, '--max-retries') })
    }
  }
  if (opts.checkHttp !== undefined) config.checks = { http: { type: 'http', path: opts.checkHttp } }
  if (opts.driver !== undefined) config.driver = opts.driver
  if (opts.fromSnapshot === true) config.from_snapshot = true
  const req: CreateMachineRequest = { config }
  if (opts.name !== undefined) req.name = opts.name
  if (opts.host !== undefined) req.host = opts.host
  if (opts.skipLaunch === true) req.skip_launch = true
  return req
}

function printOne (m: MachineView, json: boolean): void {
  if (json) printJson(m)
  else process.stdout.write(`${m.id}: ${m.state}\n`)
}

/** `roost machines run|list|status|start|stop|suspend|resume|restart|cordon|uncordon|destroy|logs|wait`. */
export function registerMachinesCommand (program: Command): void {
  const machines = program.command('machines').alias('machine').description('run and manage machines (microVMs) through the local agent\'s Machines API')

  withCommonOptions(machines.command('run')
    .description('create a machine from an image and start it')
    .argument('<image>', 'image name or digest (see roost image)')
    .option('--name <name>', 'machine name (default: made up)')
    .option('--env <KEY=VALUE>', 'environment variable of the workload (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--port <port>', 'guest port the workload listens on (the machine\'s service)', DEFAULT_INTERNAL_PORT)
    .option('--cpus <n>', 'virtual CPUs')
    .option('--memory <MB>', 'guest memory in MB')
    .addOption(new Option('--restart <policy>', 'restart policy').choices(['no', 'always', 'on-failure']))
    .option('--max-retries <n>', 'on-failure: restarts before the machine is left failed')
    .option('--check-http <path>', 'health-check this HTTP path on the service port')
    .addOption(new Option('--driver <driver>', 'VM driver (default: the agent\'s)').choices(['qemu', 'process']))
    .option('--host <host>', 'host (id, id prefix or name) to run it on (default: placement chooses — the local host when it has room and the fewest of the app\'s machines)')
    .option('--from-snapshot', 'start it as a warm clone of a snapshot of its booted image (qemu; the snapshot is made on first use)')
    .option('--skip-launch', 'create it without starting it')
    .option('--wait', 'wait until it is started (up to 60 s)'))
    .action(async (image: string, opts: RunOptions) => {
      await withClient(opts, async client => {
        const req = runRequest(image, opts)
        let m = await client.create(opts.app, req)
        if (opts.wait === true && opts.skipLaunch !== true) m = await client.wait(opts.app, m.id, 'started', RUN_WAIT_MS, m.instance_id)
        if (opts.json === true) printJson(m)
        else printMachineStatus(m)
      })
    })

  withCommonOptions(machines.command('list').alias('ls')
    .description('list the machines of an app')
    .option('--all', 'include destroyed machines'))
    .action(async (opts: CommonOptions & { all?: boolean }) => {
      await withClient(opts, async client => {
        const list = await client.list(opts.app, { includeDestroyed: opts.all === true })
        if (opts.json === true) printJson(list)
        else printMachineTable(list)
      })
    })

  withCommonOptions(machines.command('status')
    .description('show one machine')
    .argument('<id>', 'machine id'))
    .action(async (id: string, opts: CommonOptions) => {
      await withClient(opts, async client => {
        const m = await client.get(opts.app, id)
        if (opts.json === true) printJson(m)
        else printMachineStatus(m)
      })
    })

  const actions = [
    ['start', 'start', 'start a machine'],
    ['stop', 'stop', 'stop a machine'],
    ['suspend', 'suspend', 'suspend a machine (snapshot its memory to disk)'],
    ['resume', 'start', 'resume a suspended machine (same as start)'],
    ['restart', 'restart', 'restart a machine'],
    ['cordon', 'cordon', 'stop routing new traffic to a machine'],
    ['uncordon', 'uncordon', 'route traffic to a machine again']
  ] as const
  for (const [name, action, description] of actions) {
    withCommonOptions(machines.command(name).description(description).argument('<id>', 'machine id'))
      .action(async (id: string, opts: CommonOptions) => {
        await withClient(opts, async client => { printOne(await client.action(opts.app, id, action), opts.json === true) })
      })
  }

  withCommonOptions(machines.command('destroy').alias('rm')
    .description('destroy a machine')
    .argument('<id>', 'machine id')
    .option('--force', 'destroy it even when it is running'))
    .action(async (id: string, opts: CommonOptions & { force?: boolean }) => {
      await withClient(opts, async client => { printOne(await client.destroy(opts.app, id, opts.force === true), opts.json === true) })
    })

  withCommonOptions(machines.command('logs')
    .description('print the tail of a machine\'s console log')
    .argument('<id>', 'machine id')
    .option('--max-bytes <n>', 'at most this many bytes from the end'))
    .action(async (id: string, opts: CommonOptions & { maxBytes?: string }) => {
      await withClient(opts, async client => {
        const text = await client.logs(opts.app, id, opts.maxBytes === undefined ? undefined : parseIntOption(opts.maxBytes, '--max-bytes', 1))
        if (opts.json === true) printJson({ id, logs: text })
        else process.stdout.write(text)
      })
    })

  withCommonOptions(machines.command('wait')
    .description('wait until a machine reaches a state')
    .argument('<id>', 'machine id')
    .addOption(new Option('--state <state>', 'state to wait for').choices(MACHINE_STATES).default('started'))
    .option('--timeout <seconds>', 'how long to wait (at most 300)', '60'))
    .action(async (id: string, opts: CommonOptions & { state: MachineState, timeout: string }) => {
      await withClient(opts, async client => {
        printOne(await client.wait(opts.app, id, opts.state, parseIntOption(opts.timeout, '--timeout', 1) * 1000), opts.json === true)
      })
    })
}
