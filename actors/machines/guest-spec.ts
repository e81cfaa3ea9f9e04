import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { appRuntime, NODE_DEFAULT_MEMORY_MB } from '../../src/vmm/image/node-runtime.js'
import type { GuestSpec, RuntimeRecord } from '../../src/vmm/driver.js'
import type { MachineComponents } from './components.js'
import { DEFAULT_MEMORY_MB, guestPortOf, type MachineRecord } from './record.js'

/** Guest memory when the machine does not say: more for an app that runs on Node.js. */
async function defaultMemoryMb (appDir: string): Promise<number> {
  const runtime = await appRuntime(appDir).catch(() => null)
  return runtime === 'node' ? Math.max(DEFAULT_MEMORY_MB, NODE_DEFAULT_MEMORY_MB) : DEFAULT_MEMORY_MB
}

/**
 * The driver's view of a machine: its image resolved in this host's store, its directory,
 * and its networking. Forward networking keeps the machine's host port across restarts where
 * it is still free; an adopted VM keeps the port it has.
 */
export async function buildGuestSpec (rec: MachineRecord, dir: string, components: MachineComponents, adopting?: RuntimeRecord): Promise<GuestSpec> {
  const { manifest, dir: imageDir } = await components.images.resolve(rec.config.image)
  await mkdir(dir, { recursive: true })
  const namespace = rec.config.network === 'namespace'
  const hostPort = namespace ? null : adopting !== undefined ? adopting.endpoint.port : await components.ports(rec.hostPort)
  return {
    machineId: rec.id,
    dir,
    image: manifest,
    imageDir,
    cpus: rec.config.guest?.cpus ?? 1,
    memoryMb: rec.config.guest?.memory_mb ?? await defaultMemoryMb(join(imageDir, manifest.app)),
    env: { ...(rec.config.env ?? {}), FLY_APP_NAME: rec.app, ROOST_APP: rec.app, FLY_MACHINE_ID: rec.id, FLY_REGION: rec.region },
    guestPort: guestPortOf(rec.config),
    network: hostPort === null ? { mode: 'namespace' } : { mode: 'forward', hostPort }
  }
}
