import anyTest, { type TestFn } from 'ava'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { exited } from '../../src/cli/local-cluster.js'
import { isSameProcess } from '../../src/vmm/proc-info.js'
import { SUSPEND_FAULT_FILE, SUSPEND_HELD_FILE } from '../../src/vmm/suspend-fault.js'
import { COUNTER_APP, httpGet, machinesClient, recordedVmPids } from '../helpers/machines.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { useVmCluster, VM_CLUSTER_PARTS, type VmCluster } from '../helpers/vm-cluster.js'

const test = anyTest as TestFn<VmCluster>
const vm = await requireParts(test, VM_CLUSTER_PARTS)
useVmCluster(test, vm, { appDir: COUNTER_APP, name: 'counter', prefix: 'roost-suspend-it-', env: { ROOST_ENABLE_FAULTS: '1' } })
const BOOT_MS = 60_000

/** Bumps the guest's in-memory counter once (waits for the app first; one GET, so it counts once). */
const count = async (endpoint: MachineView['endpoint']): Promise<string | undefined> => {
  await retry(async () => (await httpGet(endpoint, '/ping.txt'))?.status === 200, { timeoutMs: BOOT_MS, what: 'guest app answering' })
  return (await httpGet(endpoint, '/cgi-bin/count', 30_000))?.text.trim()
}

vm.serial('kill -9 of the agent inside a suspend: the restarted agent continues a VM paused before its snapshot was whole, and finishes a suspend whose snapshot was', async t => {
  t.timeout(300_000)
  const { cluster } = t.context
  let c = await machinesClient(t.context.h1.dataDir)
  const m = await c.create('counter', { config: { image: t.context.image.digest, restart: { policy: 'no' } } })
  const machineDir = join(t.context.h1.dataDir, 'machines', m.id)
  const started = await c.wait('counter', m.id, 'started', BOOT_MS)
  t.is(await count(started.endpoint), '1')
  const [vmm] = recordedVmPids(t.context.h1.dataDir)
  if (vmm === undefined) throw new Error('no VM recorded')

  /** Suspends, holds the suspend at `phase`, kill -9s the agent there and starts a new one on the same data dir. */
  const killInsideSuspend = async (phase: 'paused' | 'migrating'): Promise<void> => {
    await writeFile(join(machineDir, SUSPEND_FAULT_FILE), phase)
    await c.action('counter', m.id, 'suspend')
    await retry(() => existsSync(join(machineDir, SUSPEND_HELD_FILE)), { timeoutMs: 30_000, what: `suspend held at ${phase}` })
    t.is((await c.get('counter', m.id)).state, 'suspending')
    const agent = t.context.h1.process
    agent.kill('SIGKILL')
    await exited(agent)
    await rm(join(machineDir, SUSPEND_FAULT_FILE))
    await rm(join(machineDir, SUSPEND_HELD_FILE))
    t.context.h1 = await cluster.startHost('h1')
    c = await machinesClient(t.context.h1.dataDir)
  }

  // Held after QMP `stop`, before the migration: no snapshot; the guest must run again.
  await killInsideSuspend('paused')
  const continued = await retry(async () => { const v = await c.get('counter', m.id); return v.state !== 'suspending' && v }, { timeoutMs: 60_000, what: 'the machine leaves suspending' })
  t.is(continued.state, 'started', continued.events[0]?.message)
  t.is(await count(continued.endpoint), '2', 'the same guest, continued: its memory kept the count')
  t.true(isSameProcess(vmm.pid, vmm.pidStartTicks), 'the VM was continued, not rebooted')
  t.false(existsSync(join(machineDir, 'snapshot.bin.tmp')), 'the partial snapshot is gone')

  // Held after the migration began: QEMU finishes writing the snapshot without the agent.
  await killInsideSuspend('migrating')
  const suspended = await retry(async () => { const v = await c.get('counter', m.id); return v.state !== 'suspending' && v }, { timeoutMs: 120_000, what: 'the machine leaves suspending' })
  t.is(suspended.state, 'suspended', suspended.events[0]?.message)
  await retry(() => !isSameProcess(vmm.pid, vmm.pidStartTicks), { timeoutMs: 10_000, what: 'the migrated QEMU ended' })
  t.is(await httpGet(started.endpoint, '/', 500), null, 'a suspended machine does not answer')
  await c.action('counter', m.id, 'start')
  const resumed = await c.wait('counter', m.id, 'started', BOOT_MS)
  t.is(resumed.boot?.mode, 'resume')
  t.is(await count(resumed.endpoint), '3', 'resumed from the snapshot the old agent began')
})
