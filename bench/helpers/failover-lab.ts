import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { pollUntil } from '../../src/lab/lab-agents.js'
import { createLab, type Lab, type LabHost } from '../../src/lab/lab.js'
import { createLogger } from '../../src/log/logger.js'
import { killRecordedVms } from '../../test/helpers/machines.js'
import { ECHO_APP_DIR, meshOf, roostIn, routable, stateDir } from '../../test/helpers/router-lab.js'
import { BIN } from './proxy-deploy.js'

// The failover bench's lab: five hosts (network namespaces, WireGuard on, process driver, one
// region), the router-echo app's three machines pinned to h1, h2 and h3, clients in a sixth
// namespace on the same bridge with no agent, sending through h5's router (which runs none of
// the machines). h2 is the host that dies.

export const APP = 'failover'
export const HOSTNAME = `${APP}.roost.internal`
export const PUBLIC_PORT = 80
export const APP_HOSTS = ['h1', 'h2', 'h3']
export const ROUTER_HOST = 'h5'
export const BOOT_HOST = 'h4'
export const VICTIM = 'h2'
/** The app's http check: how soon a new copy is seen healthy (routers prefer passing machines). */
export const CHECK_INTERVAL_MS = 500
/** The agents' log level (BENCH_FAILOVER_LOG_LEVEL; info keeps failover's decisions in the logs). */
const LOG_LEVEL = process.env.BENCH_FAILOVER_LOG_LEVEL ?? 'info'
const READY_MS = 90_000

/** roost.toml of the app: router-echo (it logs each request it receives) on port 80, replaced on failover. */
export function appToml (): string {
  return [
    `app = "${APP}"`,
    'failover = "replace"',
    '',
    '[[services]]',
    '  protocol = "tcp"',
    '  internal_port = 8080',
    '  auto_stop_machines = "off"',
    '  [[services.ports]]',
    `    port = ${PUBLIC_PORT}`,
    '    handlers = ["http"]',
    '  [services.concurrency]',
    '    type = "requests"',
    '    soft_limit = 200',
    '    hard_limit = 250',
    '',
    '[checks.alive]',
    '  type = "http"',
    '  port = 8080',
    '  path = "/health"',
    `  interval = "${CHECK_INTERVAL_MS}ms"`,
    '  timeout = "500ms"',
    ''
  ].join('\n')
}

export interface FailoverLab {
  lab: Lab
  /** The five hosts with agents. */
  hosts: LabHost[]
  /** The load generator's namespace (no agent). */
  client: LabHost
  /** Machine ids whose router-echo state dirs stop() removes. */
  machines: Set<string>
  stop: () => Promise<void>
}

/** Starts the five agents and the client namespace; resolves once every pair of hosts has a WireGuard handshake. */
export async function startFailoverLab (dir: string): Promise<FailoverLab> {
  const lab = createLab({ hosts: 5, binPath: BIN, dir, logLevel: LOG_LEVEL, readyTimeoutMs: READY_MS, agentArgs: ['--driver', 'process', '--wireguard', 'on'] }, { logger: createLogger({ level: 'warn' }) })
  const machines = new Set<string>()
  const hosts: LabHost[] = []
  const fl: FailoverLab = {
    lab,
    hosts,
    client: undefined as unknown as LabHost,
    machines,
    async stop () {
      await lab.stop()
      for (const h of hosts) killRecordedVms(h.dataDir)
      for (const id of machines) await rm(stateDir(id), { recursive: true, force: true })
    }
  }
  try {
    await lab.start()
    hosts.push(...lab.hosts)
    fl.client = await lab.addHost('client', { start: false })
    await lab.waitForMembership(READY_MS)
    await pollUntil(async () => {
      for (const h of hosts) {
        const v = await meshOf(h)
        if (v.peers.length !== hosts.length - 1 || !v.peers.every(p => p.latestHandshake > 0 && p.path === 'wireguard')) return undefined
      }
      return true
    }, READY_MS, 'a WireGuard tunnel between every pair of lab hosts')
  } catch (err) {
    await fl.stop()
    throw err
  }
  return fl
}

/** `roost deploy --count 3 --host h1,h2,h3` from the router host; resolves once its router routes to all three. */
export async function deployApp (fl: FailoverLab, dir: string): Promise<DeployResult> {
  const config = join(dir, 'roost.toml')
  await writeFile(config, appToml())
  const h = fl.lab.host(ROUTER_HOST)
  const r = await roostIn(h, ['deploy', ECHO_APP_DIR, '--config', config, '--data-dir', h.dataDir, '--kernel', 'distribution',
    '--count', String(APP_HOSTS.length), '--host', APP_HOSTS.join(','), '--wait-timeout', '90', '--json'], 180_000)
  if (r.code !== 0) throw new Error(`roost deploy failed (${r.code}): ${r.stderr}`)
  const result = JSON.parse(r.stdout) as DeployResult
  for (const m of result.machines) fl.machines.add(m.id)
  const placed = result.machines.map(m => m.hostName).sort().join(',')
  if (placed !== APP_HOSTS.join(',')) throw new Error(`expected one machine on each of ${APP_HOSTS.join(', ')}, got ${JSON.stringify(result.machines)}`)
  await routable(h, APP, result.machines.map(m => m.id), 60_000)
  return result
}

/**
 * The host dies: its link goes down (nothing more leaves or reaches it, as when a server loses
 * power), then every process in its namespace — agent, machines, wireguard-go — gets SIGKILL.
 * `killedAt` is taken before the link goes down. Rejects if a process outlives the kill.
 */
export async function killHost (fl: FailoverLab, name: string): Promise<{ killedAt: number, pids: number[] }> {
  const h = fl.lab.host(name)
  const killedAt = Date.now()
  await fl.lab.cutLink(name)
  const pids = await fl.lab.killHost(name)
  if (killRecordedVms(h.dataDir) > 0) throw new Error(`a machine of ${name} ran outside its namespace`)
  if (pids.length < 3) throw new Error(`expected an agent, wireguard-go and a machine in ${name}'s namespace, found pids ${pids.join(', ')}`)
  return { killedAt, pids }
}
