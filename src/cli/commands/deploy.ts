import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Option, type Command } from 'commander'
import type { MemberView } from '../../api/control-api.js'
import { createMachinesClient, type MachinesClient } from '../../api/machines/client.js'
import type { MachineView } from '../../api/machines/schemas.js'
import type { AppSpec } from '../../app-config/app-spec.js'
import { AppConfigError } from '../../app-config/errors.js'
import { parseAppConfig } from '../../app-config/parse-app-config.js'
import { toMachineConfig } from '../../app-config/to-machine-config.js'
import { toServiceRow } from '../../app-config/to-service-row.js'
import { InvalidArgumentError, UnknownHostError } from '../../errors/errors.js'
import type { KernelChoice } from '../../vmm/image/build.js'
import { callAgent } from '../agent-call.js'
import { defaultDataDir, parseIntOption } from '../config.js'
import { planDeploy, type DeployStep } from '../deploy-plan.js'
import { printJson, printTable, reportError } from '../output.js'
import { publishServices } from '../publish-services.js'
import { progressPrinter } from './image.js'
import { resolveApiTarget, type ApiTargetOptions } from './machines-target.js'

const CONFIG_FILE = 'roost.toml'
const KERNELS: KernelChoice[] = ['auto', 'minimal', 'distribution']

interface DeployOptions extends ApiTargetOptions {
  config?: string
  count?: string
  host?: string[]
  region?: string[]
  waitTimeout: string
  kernel: KernelChoice
  imagesDir?: string
  json?: boolean
}

/** One machine in `roost deploy`'s answer. */
export interface DeployedMachine {
  id: string
  name: string
  host: string
  hostName: string
  region: string
  state: string
  version: number
  action: 'created' | 'updated' | 'unchanged' | 'started' | 'destroyed'
}

export interface DeployResult {
  app: string
  image: string
  deployVersion: number
  machines: DeployedMachine[]
}

const say = (line: string): void => { process.stderr.write(`${line}\n`) }
const splitList = (values: string[] | undefined): string[] => (values ?? []).flatMap(v => v.split(',')).map(v => v.trim()).filter(v => v !== '')
const repeatable = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v]

/** The image store of the agent with this data dir: `imagesDir` in its agent.json, else `<dataDir>/images`. */
async function agentImagesDir (dataDir: string): Promise<string> {
  const text = await readFile(join(dataDir, 'agent.json'), 'utf8').catch(() => undefined)
  if (text !== undefined) {
    try {
      const info = JSON.parse(text) as { imagesDir?: unknown }
      if (typeof info.imagesDir === 'string' && info.imagesDir.length > 0) return info.imagesDir
    } catch {}
  }
  return join(dataDir, 'images')
}

async function readConfig (file: string): Promise<AppSpec> {
  let source: string
  try {
    source = await readFile(file, 'utf8')
  } catch (err) {
    throw new AppConfigError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file })
  }
  return parseAppConfig(source, file)
}

/** `--host` values (names, ids or id prefixes) as host ids of alive members; none: the cluster's placement chooses. */
export function placementHosts (members: MemberView[], wanted: string[]): string[] {
  return wanted.map(w => {
    const found = members.filter(m => m.name === w || m.hostId === w || (w.length >= 4 && m.hostId.startsWith(w)))
    if (found.length !== 1) throw new UnknownHostError(found.length === 0 ? `--host ${w}: no such host (see roost members)` : `--host ${w} matches ${found.length} hosts`, { host: w })
    const m = found[0] as MemberView
    if (m.state !== 'alive') throw new UnknownHostError(`--host ${w}: the host is ${m.state}`, { host: w })
    return m.hostId
  })
}

async function execute (client: MachinesClient, app: string, steps: DeployStep[], waitMs: number, hostName: (id: string) => string): Promise<Array<{ view: MachineView, action: DeployedMachine['action'] }>> {
  const done: Array<{ view: MachineView, action: DeployedMachine['action'] }> = []
  for (const s of steps) {
    if (s.action !== 'destroy') continue
    say(`destroying ${s.machine.id}`)
    await client.destroy(app, s.machine.id, true)
    // Once gone, the wait answers with little more than the state: the rest is the machine as it was.
    const gone = await client.wait(app, s.machine.id, 'destroyed', waitMs)
    done.push({ view: { ...s.machine, state: gone.state }, action: 'destroyed' })
  }
  const updates = steps.filter(s => s.action === 'update')
  for (const [i, s] of updates.entries()) {
    if (s.action !== 'update') continue
    say(`updating ${s.machine.id} (${i + 1}/${updates.length})`)
    const updated = await client.update(app, s.machine.id, { config: s.config })
    done.push({ view: await client.wait(app, updated.id, 'started', waitMs, updated.instance_id), action: 'updated' })
  }
  for (const s of steps) {
    if (s.action !== 'unchanged') continue
    if (s.machine.state === 'started' || s.machine.state === 'starting') { done.push({ view: s.machine, action: 'unchanged' }); continue }
    // A deploy leaves the app running: a stopped, suspended or failed machine of the same config is started again.
    say(`starting ${s.machine.id} (${s.machine.state})`)
    await client.action(app, s.machine.id, 'start')
    done.push({ view: await client.wait(app, s.machine.id, 'started', waitMs), action: 'started' })
  }
  const created: MachineView[] = []
  for (const s of steps) {
    if (s.action !== 'create') continue
    const m = await client.create(app, { config: s.config, ...(s.host === null ? {} : { host: s.host }), ...(s.region === null ? {} : { region: s.region }) })
    say(`created ${m.id} on ${hostName(m.host)}`)
    created.push(m)
  }
  const started = await Promise.all(created.map(async m => await client.wait(app, m.id, 'started', waitMs, m.instance_id)))
  for (const view of started) done.push({ view, action: 'created' })
  return done
}

/** Runs a deploy: config, image, services row, machines. Progress goes to stderr. */
export async function deploy (dir: string, opts: DeployOptions): Promise<DeployResult> {
  const appDir = resolve(dir)
  const spec = await readConfig(resolve(opts.config ?? join(appDir, CONFIG_FILE)))
  const count = opts.count === undefined ? undefined : parseIntOption(opts.count, '--count', 0)
  const waitMs = parseIntOption(opts.waitTimeout, '--wait-timeout', 1) * 1000
  if (!KERNELS.includes(opts.kernel)) throw new InvalidArgumentError(`--kernel must be one of ${KERNELS.join(', ')}`)
  const target = resolveApiTarget(opts)
  const client = createMachinesClient({ url: target.url, token: target.token })
  const members = await callAgent(opts.dataDir, async api => await api.members())
  const hosts = placementHosts(members, splitList(opts.host))
  const regions = splitList(opts.region)
  if (hosts.length > 0 && regions.length > 0) throw new InvalidArgumentError('--host and --region exclude each other: --host names the hosts, --region lets placement choose in those regions')

  const progress = progressPrinter(process.stderr)
  const [{ buildImage }, { createLogger }] = await Promise.all([import('../../vmm/image/build.js'), import('../../log/logger.js')])
  const image = await buildImage({
    appDir,
    imagesDir: resolve(opts.imagesDir ?? await agentImagesDir(resolve(opts.dataDir))),
    name: spec.app,
    kernel: opts.kernel,
    ...(spec.build.runtime === undefined ? {} : { runtime: spec.build.runtime }),
    onProgress: progress.onProgress
  }, { logger: createLogger({ level: process.env.ROOST_LOG_LEVEL ?? 'warn' }) }).finally(() => { progress.end() })
  say(`image ${image.digest.slice(0, 12)}${image.reused ? ' (unchanged)' : ''}`)

  const previous = (await callAgent(opts.dataDir, async api => await api.state('services'))).find(r => r.key === spec.app)?.data
  const deployVersion = typeof previous?.deployVersion === 'number' ? previous.deployVersion + 1 : 1
  await publishServices(opts.dataDir, toServiceRow(spec, deployVersion))
  say(`services of ${spec.app} published (deploy version ${deployVersion})`)

  const existing = (await client.list(spec.app)).filter(m => m.state !== 'destroyed' && m.state !== 'destroying')
  const steps = planDeploy({ existing, config: toMachineConfig(spec, image.digest), count: count ?? (existing.length > 0 ? existing.length : 1), hosts, regions })
  const names = new Map(members.map(m => [m.hostId, m.name]))
  const hostName = (id: string): string => names.get(id) ?? id.slice(0, 12)
  const done = await execute(client, spec.app, steps, waitMs, hostName)
  return {
    app: spec.app,
    image: image.digest,
    deployVersion,
    machines: done.map(({ view, action }) => ({
      id: view.id, name: view.name, host: view.host, hostName: hostName(view.host), region: view.region, state: view.state, version: view.version, action
    }))
  }
}

/** `roost deploy [dir]`: build, publish the app's services, create or update its machines. */
export function registerDeployCommand (program: Command): void {
  program.command('deploy')
    .description('deploy the app in a directory: build its image, publish its services (roost.toml) to the cluster, create or update its machines')
    .argument('[dir]', 'the app directory: an executable run, and roost.toml', '.')
    .option('--config <file>', `the app config (default: <dir>/${CONFIG_FILE})`)
    .option('--count <n>', 'how many machines the app runs (default: as many as it has, 1 for a new app); extras are destroyed, newest first')
    .option('--host <host>', 'place new machines round-robin on these hosts (name or id; repeatable or comma-separated; default: the cluster\'s placement chooses)', repeatable)
    .option('--region <region>', 'let placement put new machines in these regions, round-robin (repeatable or comma-separated; default: any region)', repeatable)
    .option('--wait-timeout <seconds>', 'how long to wait for each machine to be started', '120')
    .addOption(new Option('--kernel <kind>', 'the image\'s kernel (see roost image build)').choices(KERNELS).default('auto'))
    .option('--images-dir <dir>', 'image store (default: the local agent\'s, from <data-dir>/agent.json)')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--api <url>', 'Machines API URL (default: ROOST_API_URL, else the agent\'s agent.json)')
    .option('--token <token>', 'Machines API token (default: ROOST_API_TOKEN, else <data dir>/api.token)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: DeployOptions) => {
      try {
        const result = await deploy(dir, opts)
        if (opts.json === true) {
          printJson(result)
          return
        }
        printTable(['MACHINE', 'HOST', 'REGION', 'STATE', 'VERSION', 'ACTION'], result.machines.map(m => [
          m.id, m.hostName, m.region, m.state, m.action === 'destroyed' ? '-' : String(m.version), m.action
        ]))
      } catch (err) {
        process.exitCode = reportError(err, opts.json === true)
      }
    })
}
