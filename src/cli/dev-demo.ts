import { join } from 'node:path'
import { createMachinesClient } from '../api/machines/client.js'
import type { MachineView } from '../api/machines/schemas.js'
import { silentLogger } from '../log/logger.js'
import { buildImage, type BuildProgress } from '../vmm/image/build.js'
import { resolveApiTarget } from './commands/machines-target.js'
import { packageRoot } from './config.js'
import { localImagesDir, type LocalHost } from './local-cluster.js'

export const DEMO_APP = 'demo'
const BOOT_TIMEOUT_MS = 120_000

/** The demo app's directory (a Node.js HTTP server; shipped in the package). */
export function demoAppDir (): string {
  return join(packageRoot(), 'src', 'cli', 'demo-app')
}

function clientFor (host: LocalHost): ReturnType<typeof createMachinesClient> {
  const { url, token } = resolveApiTarget({ dataDir: host.dataDir })
  return createMachinesClient({ url, token })
}

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

/**
 * Builds the demo image into the local cluster's shared image store and runs `count` machines
 * of app `demo`, one per host round-robin, through each host's Machines API; resolves when
 * every machine's HTTP port answers.
 */
export async function deployDemo (init: { dir: string, hosts: LocalHost[], count: number, onProgress?: (p: BuildProgress) => void }): Promise<{ image: string, machines: MachineView[] }> {
  const image = await buildImage({ appDir: demoAppDir(), imagesDir: localImagesDir(init.dir), name: DEMO_APP, ...(init.onProgress === undefined ? {} : { onProgress: init.onProgress }) }, { logger: silentLogger() })
  const created: Array<{ client: ReturnType<typeof createMachinesClient>, m: MachineView }> = []
  for (let i = 0; i < init.count; i++) {
    const host = init.hosts[i % init.hosts.length]
    if (host === undefined) break
    const client = clientFor(host)
    const existing = await client.list(DEMO_APP)
    const reuse = existing.find(m => !created.some(c => c.m.id === m.id) && m.state !== 'destroyed' && m.name === `demo-${i + 1}`)
    const m = reuse ?? await client.create(DEMO_APP, {
      name: `demo-${i + 1}`,
      config: {
        image: image.digest,
        services: [{ internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }] }],
        checks: { web: { type: 'http', path: '/', interval: '5s', timeout: '2s', grace_period: '60s' } },
        restart: { policy: 'always' }
      }
    })
    if (reuse !== undefined && reuse.state !== 'started' && reuse.state !== 'starting') await client.action(DEMO_APP, reuse.id, 'start')
    created.push({ client, m })
  }
  const deadline = Date.now() + BOOT_TIMEOUT_MS
  const machines: MachineView[] = []
  for (const { client, m } of created) {
    for (;;) {
      const v = await client.get(DEMO_APP, m.id)
      if (v.state === 'started' && await answers(v)) { machines.push(v); break }
      if (v.state === 'failed' || Date.now() > deadline) throw new Error(`demo machine ${m.id} is ${v.state}${v.state === 'failed' ? `: ${v.events[0]?.message ?? ''}` : ' after 120 s'}`)
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
  return { image: image.digest, machines }
}
