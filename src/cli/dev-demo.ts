import { join } from 'node:path'
import { createMachinesClient } from '../api/machines/client.js'
import type { MachineView } from '../api/machines/schemas.js'
import { deploy, type DeployResult } from './commands/deploy.js'
import { resolveApiTarget } from './commands/machines-target.js'
import { packageRoot } from './config.js'
import type { LocalHost } from './local-cluster.js'

export const DEMO_APP = 'demo'
/** The demo's public ports (its roost.toml): unprivileged, so `roost dev` needs no root for them. */
export const DEMO_HTTP_PORT = 8080
export const DEMO_HTTPS_PORT = 8443

/** The demo app's directory (a Node.js HTTP server and its roost.toml; shipped in the package). */
export function demoAppDir (): string {
  return join(packageRoot(), 'src', 'cli', 'demo-app')
}

/**
 * Deploys the demo app exactly as `roost deploy` would, through the first host: its image into
 * the local cluster's shared store, its services to every router, `count` machines over the
 * first hosts round-robin; resolves when every machine is started (views with endpoints).
 */
export async function deployDemo (init: { hosts: LocalHost[], count: number }): Promise<{ result: DeployResult, machines: MachineView[] }> {
  const first = init.hosts[0]
  if (first === undefined) throw new Error('no hosts')
  const result = await deploy(demoAppDir(), {
    dataDir: first.dataDir,
    count: String(init.count),
    host: init.hosts.slice(0, Math.max(1, Math.min(init.count, init.hosts.length))).map(h => h.name),
    waitTimeout: '180',
    kernel: 'auto'
  })
  const { url, token } = resolveApiTarget({ dataDir: first.dataDir })
  const client = createMachinesClient({ url, token })
  const machines = await Promise.all(result.machines.filter(m => m.action !== 'destroyed').map(async m => await client.get(DEMO_APP, m.id)))
  return { result, machines }
}
