import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ExecutionContext, TestFn } from 'ava'
import { localImagesDir, startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage, type BuiltImage, type KernelChoice } from '../../src/vmm/image/build.js'
import { BIN } from './cli.js'
import { tearDownCluster } from './machines.js'
import type { Part, Requirements } from './requirements.js'
import { acquireVmLock } from './vm-lock.js'

/** One qemu agent with an image of `appDir` built into its store: the context of a VM test file. */
export interface VmCluster { cluster: LocalCluster, dir: string, image: BuiltImage, h1: LocalHost, release: () => Promise<void> }

/** The app to build an image of, and the agent's extra environment (e.g. ROOST_ENABLE_FAULTS). */
export interface VmClusterOptions { appDir: string, name: string, prefix: string, env?: Record<string, string> }

/**
 * Takes the VM lock, builds the image (the project's default kernel unless ROOST_TEST_KERNEL says
 * otherwise) and starts a one-host local cluster on the qemu driver. Pair with {@link stopVmCluster}.
 */
export async function startVmCluster (opts: VmClusterOptions): Promise<VmCluster> {
  const release = await acquireVmLock()
  const dir = await mkdtemp(join(tmpdir(), opts.prefix))
  const kernel = (process.env.ROOST_TEST_KERNEL ?? 'auto') as KernelChoice
  const image = await buildImage({ appDir: opts.appDir, imagesDir: localImagesDir(dir), name: opts.name, kernel }, { logger: silentLogger() })
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 1, dir, logLevel: 'debug', agentArgs: ['--driver', 'qemu'], ...(opts.env === undefined ? {} : { env: opts.env }) })
  return { cluster, dir, image, h1: cluster.hosts[0] as LocalHost, release }
}

/** Stops the agent, kills any VM it left (by recorded pid), removes the dir and releases the lock. */
export async function stopVmCluster (t: ExecutionContext, c: Partial<VmCluster>): Promise<void> {
  await tearDownCluster(c.cluster, c.dir, line => { t.log(line) })
  await c.release?.()
}

/** What a VM cluster file needs: qemu, and Debian's tools for the image build. */
export const VM_CLUSTER_PARTS: readonly Part[] = ['qemu', 'debian-tools']

/**
 * Registers the file's before/after hooks: the cluster is started once for the file and stopped
 * after it. Where a part is missing nothing starts: the file's tests, declared through the same
 * requirements, skip (or fail under CI) without it.
 */
export function useVmCluster (test: TestFn<VmCluster>, req: Requirements, opts: VmClusterOptions): void {
  test.before(async t => {
    if (!req.ok) return
    t.context = await startVmCluster(opts)
  })
  test.after.always(async t => { await stopVmCluster(t, t.context) })
}
