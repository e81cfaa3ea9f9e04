import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMachinesClient, type MachinesClient } from '../../src/api/machines/client.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { controlCall } from '../../src/lab/lab-agents.js'
import type { RoutesView } from '../../src/proxy/data-plane-view.js'
import { pidOf } from './raw-qemu.js'

// `roost deploy` as a user runs it (the CLI, in a child process), for the proxy bench's apps.

export const BIN = fileURLToPath(new URL('../../bin/roost.js', import.meta.url))
/** The agents' log level (BENCH_PROXY_LOG_LEVEL, default warn: logging is not what is measured). */
export const AGENT_LOG_LEVEL = process.env.BENCH_PROXY_LOG_LEVEL ?? 'warn'

export interface DeployInit {
  appDir: string
  /** The data dir of the agent the CLI talks to. */
  dataDir: string
  /** `--host`: where the machine goes. */
  host?: string
  kernel: 'auto' | 'minimal' | 'distribution'
  /** Runs the CLI inside this network namespace (a lab host's: its Machines API listens there). */
  netns?: string
}

/** Runs `roost deploy --json`; rejects with the CLI's stderr when it fails. */
export async function roostDeploy (d: DeployInit): Promise<DeployResult> {
  const cli = [process.execPath, BIN, 'deploy', d.appDir, '--data-dir', d.dataDir, '--kernel', d.kernel, '--wait-timeout', '120', '--json', ...(d.host === undefined ? [] : ['--host', d.host])]
  const argv = d.netns === undefined ? cli : ['ip', 'netns', 'exec', d.netns, ...cli]
  return await new Promise((resolve, reject) => {
    execFile(argv[0] as string, argv.slice(1), { timeout: 600_000, maxBuffer: 1 << 22 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`roost deploy failed: ${err.message}\n${stderr}`))
      else resolve(JSON.parse(stdout) as DeployResult)
    })
  })
}

/** The Machines API client of the agent with this data dir (from its agent.json and api.token). */
export async function machinesOf (dataDir: string): Promise<MachinesClient> {
  const info = JSON.parse(await readFile(join(dataDir, 'agent.json'), 'utf8')) as { api: string }
  return createMachinesClient({ url: info.api, token: (await readFile(join(dataDir, 'api.token'), 'utf8')).trim() })
}

/** The one started machine of a deploy: its view, endpoint and process id. */
export async function deployedMachine (c: MachinesClient, result: DeployResult): Promise<{ m: MachineView, endpoint: { host: string, port: number }, pid: number }> {
  const [first] = result.machines
  if (result.machines.length !== 1 || first === undefined) throw new Error(`the deploy should leave one machine: ${JSON.stringify(result.machines)}`)
  const m = await c.get(result.app, first.id)
  if (m.state !== 'started' || m.endpoint === null) throw new Error(`machine ${m.id} is ${m.state} (endpoint ${JSON.stringify(m.endpoint)})`)
  return { m, endpoint: m.endpoint, pid: pidOf(m) }
}

/** The router's view of one app on the agent with this control socket (`roost routes <app> --json`). */
export async function routesOf (socketPath: string, app: string): Promise<RoutesView['apps'][number] | undefined> {
  const result = await controlCall(socketPath, async api => await api.send('local/agent/router', { type: 'router.routes', app }, { timeoutMs: 10_000 }), 15_000)
  return (result.reply as RoutesView).apps.find(a => a.app === app)
}
