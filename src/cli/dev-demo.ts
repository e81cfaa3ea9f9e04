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
  // Started is not yet answering (a cold boot under TCG takes seconds): wait for each app's port.
  const deadline = Date.now() + ANSWER_TIMEOUT_MS
  const machines: MachineView[] = []
  for (const d of result.machines.filter(m => m.action !== 'destroyed')) {
    for (;;) {
      const v = await client.get(DEMO_APP, d.id)
      if (v.state === 'started' && await answers(v)) { machines.push(v); break }
      if (v.state === 'failed' || Date.now() > deadline) throw new Error(`demo machine ${d.id} is ${v.state}${v.state === 'failed' ? `: ${v.events[0]?.message ?? ''}` : `, not answering after ${ANSWER_TIMEOUT_MS / 1000} s`}`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
  return { result, machines }
}

const ANSWER_TIMEOUT_MS = 180_000

async function answers (m: MachineView): Promise<boolean> {
  if (m.endpoint === null) return false
  try {
    const res = await fetch(`http://${m.endpoint.host}:${m.endpoint.port}/`, { signal: AbortSignal.timeout(1_000) })
    await res.arrayBuffer()
    return res.ok
  } catch {
    return false
  }
}
