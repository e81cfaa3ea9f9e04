import type { Command } from 'commander'
import type { MemberView, RowView } from '../../api/control-api.js'
import { AppNotFoundError } from '../../app-config/errors.js'
import type { ServiceRowData, ServiceSpec } from '../../gossip/rows.js'
import { currentMachineRows } from '../../placement/machine-rows.js'
import { callAgent } from '../agent-call.js'
import { defaultDataDir } from '../config.js'
import { ago, printJson, printTable, reportError } from '../output.js'

interface AppsOptions { dataDir: string, json?: boolean }

/** A machine of an app as the gossiped `machines` table has it. */
export interface AppMachine {
  id: string
  name: string
  host: string
  hostName: string
  region: string
  state: string
  health: string
  driver: string
  endpoint: { host: string, port: number } | null
}

/** One line of `roost apps list`. */
export interface AppSummary {
  app: string
  deployVersion: number
  primaryRegion: string | null
  hostnames: string[]
  ports: string[]
  /** Machine counts by state. */
  machines: Record<string, number>
  updatedAt: number
}

interface ClusterView { services: RowView[], machines: RowView[], members: MemberView[] }

async function clusterView (dataDir: string): Promise<ClusterView> {
  return await callAgent(dataDir, async api => {
    const [services, machines, members] = await Promise.all([api.state('services'), api.state('machines'), api.members()])
    return { services, machines, members }
  })
}

const str = (v: unknown, d = ''): string => typeof v === 'string' ? v : d

/** `443/tls+http`, `80/http (force https)`, `5432/tcp`. */
export function portLabel (p: ServiceSpec['ports'][number]): string {
  const handlers = p.handlers.length === 0 ? 'tcp' : p.handlers.join('+')
  const version = p.handlers.includes('proxy_proto') ? ` v${p.proxyProtoVersion}` : ''
  return `${p.port}/${handlers}${version}${p.forceHttps ? ' (force https)' : ''}`
}

function machinesOf (view: ClusterView, app: string): AppMachine[] {
  const names = new Map(view.members.map(m => [m.hostId, m.name]))
  return currentMachineRows(view.machines)
    .filter(r => r.data !== null && r.data.app === app && r.data.state !== 'destroyed')
    .map(r => {
      const d = r.data as Record<string, unknown>
      const host = str(d.host, r.owner)
      const endpoint = d.endpoint as { host?: unknown, port?: unknown } | null | undefined
      return {
        id: str(d.id, r.key),
        name: str(d.name),
        host,
        hostName: names.get(host) ?? host.slice(0, 12),
        region: str(d.region),
        state: str(d.state, 'unknown'),
        health: str(d.health, 'none'),
        driver: str(d.driver),
        endpoint: typeof endpoint?.host === 'string' && typeof endpoint.port === 'number' ? { host: endpoint.host, port: endpoint.port } : null
      }
    })
    .sort((a, b) => a.hostName.localeCompare(b.hostName) || a.id.localeCompare(b.id))
}

/** The apps with a services row, with their machines counted by state. */
export function appSummaries (view: ClusterView): AppSummary[] {
  return view.services
    .filter(r => r.data !== null)
    .map(r => {
      const row = r.data as unknown as ServiceRowData
      const machines: Record<string, number> = {}
      for (const m of machinesOf(view, r.key)) machines[m.state] = (machines[m.state] ?? 0) + 1
      return {
        app: r.key,
        deployVersion: row.deployVersion,
        primaryRegion: row.primaryRegion,
        hostnames: row.hostnames,
        ports: row.services.flatMap(s => s.ports.map(portLabel)),
        machines,
        updatedAt: row.updatedAt
      }
    })
    .sort((a, b) => a.app.localeCompare(b.app))
}

const counts = (m: Record<string, number>): string => Object.entries(m).map(([state, n]) => `${n} ${state}`).join(', ') || '-'

function printStatus (app: string, row: ServiceRowData | null, machines: AppMachine[]): void {
  const lines: Array<[string, string]> = [['app', app]]
  if (row === null) lines.push(['services', 'none published (not deployed with roost deploy)'])
  else {
    lines.push(['deploy version', String(row.deployVersion)], ['primary region', row.primaryRegion ?? '-'],
      ['hostnames', row.hostnames.join(', ') || '-'], ['updated', ago(row.updatedAt)])
  }
  const width = Math.max(...lines.map(([k]) => k.length)) + 2
  for (const [k, v] of lines) process.stdout.write(`${`${k}:`.padEnd(width)}${v}\n`)
  if (row !== null && row.services.length > 0) {
    process.stdout.write('\nSERVICES\n')
    printTable(['INTERNAL', 'PORTS', 'CONCURRENCY', 'AUTOSTOP', 'AUTOSTART', 'MIN RUNNING'], row.services.map(s => [
      `${s.internalPort}/${s.protocol}`,
      s.ports.map(p => `${portLabel(p)}${p.alpn === undefined ? '' : ` alpn=${p.alpn.join(',')}`}`).join('; ') || '-',
      `${s.concurrency.type} soft ${s.concurrency.softLimit} hard ${s.concurrency.hardLimit}`,
      s.autoStopMachines,
      s.autoStartMachines ? 'yes' : 'no',
      String(s.minMachinesRunning)
    ]))
  }
  process.stdout.write('\nMACHINES\n')
  if (machines.length === 0) process.stdout.write('none\n')
  else {
    printTable(['ID', 'NAME', 'HOST', 'REGION', 'STATE', 'HEALTH', 'DRIVER', 'ENDPOINT'], machines.map(m => [
      m.id, m.name || '-', m.hostName, m.region || '-', m.state, m.health, m.driver || '-', m.endpoint === null ? '-' : `${m.endpoint.host}:${m.endpoint.port}`
    ]))
  }
}

/** `roost apps list|status`: the apps the cluster state knows, from the gossiped services and machines tables. */
export function registerAppsCommand (program: Command): void {
  const apps = program.command('apps').alias('app').description('the apps of the cluster: their services and machines (from the local agent\'s replica)')

  apps.command('list').alias('ls')
    .description('list the deployed apps with their ports and machines by state')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (opts: AppsOptions) => {
      try {
        const list = appSummaries(await clusterView(opts.dataDir))
        if (opts.json === true) {
          printJson(list)
          return
        }
        printTable(['APP', 'VERSION', 'PORTS', 'MACHINES', 'UPDATED'], list.map(a => [
          a.app, String(a.deployVersion), a.ports.join(', ') || '-', counts(a.machines), ago(a.updatedAt)
        ]))
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  apps.command('status')
    .description('an app\'s services (ports, handlers, limits, autostop) and its machines')
    .argument('<app>', 'app name')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (app: string, opts: AppsOptions) => {
      try {
        const view = await clusterView(opts.dataDir)
        const data = view.services.find(r => r.key === app)?.data ?? null
        const row = data === null ? null : data as unknown as ServiceRowData
        const machines = machinesOf(view, app)
        if (row === null && machines.length === 0) throw new AppNotFoundError(`no app '${app}' in the cluster state (see roost apps list)`, { app })
        if (opts.json === true) printJson({ app, service: row, machines })
        else printStatus(app, row, machines)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
