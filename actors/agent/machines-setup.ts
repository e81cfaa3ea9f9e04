import { randomBytes } from 'node:crypto'
import type { LaunchRecorder } from '../../src/metrics/machine-metrics.js'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../../src/errors/errors.js'
import { createCapacityLedger, type CapacityInit } from '../../src/placement/capacity.js'
import { createHealthChecker } from '../../src/health/checker.js'
import type { Logger } from '../../src/log/logger.js'
import type { DriverKind, VmDriver } from '../../src/vmm/driver.js'
import type { ImageStore } from '../../src/vmm/image/image-store.js'
import { createSqliteMachineStore, type MachineStore } from '../../src/vmm/machine-store.js'
import { createNetnsAllocator } from '../../src/vmm/netns.js'
import { allocatePort } from '../../src/vmm/ports.js'
import { createProcessDriver } from '../../src/vmm/process-driver.js'
import { createQemuDriver, qemuAvailable } from '../../src/vmm/qemu-driver.js'
import type { MachineComponents } from '../machines/components.js'
import type { MachinesActorInit } from '../machines/machines-actor.js'

export type DriverChoice = 'auto' | DriverKind

export interface MachinesSetupInit {
  dataDir: string
  /** Where images live (default `<dataDir>/images`). */
  imagesDir?: string
  driver: DriverChoice
  region: string
  /** Names this host's machine namespaces (unique per agent on one machine). */
  netnsPrefix: string
  /** What this host offers machines. */
  capacity: CapacityInit
  /** Test-only fault injection (ROOST_ENABLE_FAULTS=1), passed to the qemu driver. */
  faults?: boolean
}

export interface MachinesSetup {
  init: MachinesActorInit
  /** The parts of this host's machines; the agent actor adds the event stream. */
  components: Omit<MachineComponents, 'events'>
  /** e.g. "qemu 7.2.x microvm, accel tcg" — which driver machines use by default. */
  describe: string
  store: MachineStore
}

/**
 * The host's machine parts: the drivers it can run (process always; qemu when installed),
 * the default one (`auto`: qemu when installed), the image store, the durable machine store.
 */
export async function setupMachines (init: MachinesSetupInit, components: { logger: Logger, launches?: LaunchRecorder }): Promise<MachinesSetup> {
  const logger = components.logger
  const netns = createNetnsAllocator({ prefix: init.netnsPrefix }, { logger })
  const drivers: Partial<Record<DriverKind, VmDriver>> = { process: createProcessDriver({}, { logger, netns }) }
  const qemu = await qemuAvailable()
  if (qemu.ok) drivers.qemu = createQemuDriver({ faults: init.faults === true }, { logger, netns })
  if (init.driver === 'qemu' && !qemu.ok) throw new ConfigError('--driver qemu: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)')
  const defaultDriver: DriverKind = init.driver === 'auto' ? (qemu.ok ? 'qemu' : 'process') : init.driver
  // The image store (its builders: apt, cpio, kernel modules, ~0.5 MB of heap) loads with the first machine that needs an image.
  let images: Promise<ImageStore> | undefined
  const imageStore = async (): Promise<ImageStore> => {
    images ??= import('../../src/vmm/image/image-store.js').then(m => m.createImageStore({ imagesDir: init.imagesDir ?? join(init.dataDir, 'images') }, { logger }))
    return await images
  }
  const store = createSqliteMachineStore({ path: join(init.dataDir, 'machines.db') })
  if (process.getuid?.() === 0) {
    const known = store.list().map(m => (m.record.runtime as { netns?: string } | null)?.netns).filter((n): n is string => n !== undefined)
    const removed = await netns.cleanupStale(known).catch((err: unknown) => { logger.warn({ err }, 'could not sweep stale machine namespaces'); return [] })
    if (removed.length > 0) logger.info({ removed }, 'removed namespaces of machines that are gone')
  }
  const describe = defaultDriver === 'qemu' ? `qemu ${qemu.version ?? ''} microvm`.replace('  ', ' ') : 'process (qemu-system-x86_64 not found)'
  return {
    init: { machinesDir: join(init.dataDir, 'machines'), region: init.region, defaultDriver },
    components: {
      drivers,
      store,
      images: { resolve: async (ref) => { const img = await (await imageStore()).resolve(ref); return { manifest: img, dir: img.dir } } },
      ports: allocatePort,
      ...(components.launches === undefined ? {} : { launches: components.launches }),
      capacity: createCapacityLedger(init.capacity),
      healthChecks: (checks, onResult) => {
        const checker = createHealthChecker({ checks, onResult }, { logger })
        checker.start()
        return checker
      }
    },
    describe,
    store
  }
}

export const API_TOKEN_FILE = 'api.token'

/** The Machines API token: given, or `<dataDir>/api.token` (created with 0600 on first start). */
export async function loadApiToken (dataDir: string, given?: string): Promise<string> {
  if (given !== undefined && given.length > 0) return given
  const file = join(dataDir, API_TOKEN_FILE)
  const existing = await readFile(file, 'utf8').then(s => s.trim(), () => '')
  if (existing.length >= 16) return existing
  const token = randomBytes(24).toString('base64url')
  await writeFile(file, token + '\n', { mode: 0o600 })
  return token
}
