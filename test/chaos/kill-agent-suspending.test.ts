import anyTest, { type TestFn } from 'ava'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage, type KernelChoice } from '../../src/vmm/image/build.js'
import { SUSPEND_FAULT_FILE, SUSPEND_HELD_FILE } from '../../src/vmm/suspend-fault.js'
import { COUNTER_APP } from '../helpers/machines.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { VM_CLUSTER_PARTS } from '../helpers/vm-cluster.js'
import { CHAOS_APP, CHAOS_PARTS, MIN_ANSWERED, OTHER_HOSTS, runChaos, stopChaos } from './harness/chaos-lab.js'
import { spawnRoostIn } from './harness/roost-in.js'

// Chaos: kill -9 of an agent while a machine on it is suspending, under a fixed-rate HTTP load
// through another host's router. The machine is a real VM (QEMU microvm; suspend exists only
// there), the load's app runs on the process driver. The agents run with ROOST_ENABLE_FAULTS, so
// the suspend can be held at a phase (see src/vmm/suspend-fault.ts) while the agent is killed.
// Held after the pause, the returning agent continues the VM; held once the snapshot is being
// written, QEMU finishes it and the machine ends suspended. Either way: the VM exists once, runs
// at most once, no QEMU is orphaned, and the cluster converges. Seeded: the load app's hosts,
// the VM's host, the phase, and how long the agent stays away.

const test = anyTest as TestFn
const chaos = await requireParts(test, [...CHAOS_PARTS, ...VM_CLUSTER_PARTS])
chaos.afterAlways(async () => { await stopChaos() })
const VM_APP = 'vm'
const BOOT_MS = 90_000

chaos.serial('kill -9 of an agent while a machine on it is suspending: the VM ends started or suspended, exactly once, no orphan QEMU; the router answers ≥ 99.9 % (qemu VM, process-driver app)', async t => {
  await runChaos(t, fileURLToPath(import.meta.url), { prefix: 'roost-chaos-suspend-', env: { ROOST_ENABLE_FAULTS: '1' }, vm: true }, async c => {
    const s = c.schedule
    const kernel = (process.env.ROOST_TEST_KERNEL ?? 'auto') as KernelChoice
    const image = await buildImage({ appDir: COUNTER_APP, imagesDir: join(c.rl.dir, 'images'), name: 'counter', kernel }, { logger: silentLogger() })
    c.mark(`image ${image.digest.slice(0, 12)} built`)
    await c.deployChaosApp(s.sample('machine hosts', OTHER_HOSTS, 3))
    await c.startLoad()

    const target = s.pick('host of the VM', OTHER_HOSTS)
    const h = c.host(target)
    const run = spawnRoostIn(h, ['machines', 'run', image.digest, '--app', VM_APP, '--driver', 'qemu', '--host', target, '--restart', 'no', '--wait', '--json', '--data-dir', h.dataDir])
    const code = await run.exited
    if (code !== 0) throw new Error(`roost machines run failed (${String(code)}): ${run.stderr()}`)
    const vm = JSON.parse(run.stdout()) as MachineView
    c.mark(`VM ${vm.id} started on ${target}`)
    await c.converged([{ app: CHAOS_APP, count: 3 }, { app: VM_APP, count: 1 }], { timeoutMs: BOOT_MS })

    const phase = s.pick('phase the suspend is held at', ['paused', 'migrating'] as const)
    const dir = join(h.dataDir, 'machines', vm.id)
    await writeFile(join(dir, SUSPEND_FAULT_FILE), phase)
    const suspend = spawnRoostIn(h, ['machines', 'suspend', vm.id, '--app', VM_APP, '--json', '--data-dir', h.dataDir])
    try {
      await retry(() => existsSync(join(dir, SUSPEND_HELD_FILE)), { timeoutMs: 60_000, intervalMs: 50, what: `the suspend held at ${phase}` })
      c.mark(`suspend held at ${phase}`)
      await c.killAgent(target)
    } finally {
      suspend.kill()
    }
    await rm(join(dir, SUSPEND_FAULT_FILE), { force: true })
    await rm(join(dir, SUSPEND_HELD_FILE), { force: true })
    await c.requests(s.int('requests while the agent is away', 0, 300))
    await c.startAgent(target)
    await c.waitForMembership()

    const want = phase === 'paused' ? 'started' : 'suspended'
    const census = await c.converged([{ app: CHAOS_APP, count: 3 }, { app: VM_APP, count: 1, state: want }], { timeoutMs: BOOT_MS })
    const m = (census.views.h1 ?? []).find(x => x.id === vm.id)
    t.like(m, { owner: target, generation: 1, state: want }, `held at ${phase}, the VM ends ${want} on its host`)
    await c.requests(200)
    await c.finishLoad(MIN_ANSWERED)
  })
})
