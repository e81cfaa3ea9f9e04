import anyTest, { type TestFn } from 'ava'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { demoAppDir } from '../../src/cli/dev-demo.js'
import { httpGet, machinesClient } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { requireParts } from '../helpers/requirements.js'
import { useVmCluster, VM_CLUSTER_PARTS, type VmCluster } from '../helpers/vm-cluster.js'

const test = anyTest as TestFn<VmCluster>

const vm = await requireParts(test, VM_CLUSTER_PARTS)
const run = vm.serial
const APP = 'node-demo'
/** Node under TCG: the ~100 MB runtime is unpacked into guest RAM, then V8 starts, all emulated. */
const START_MS = 180_000
process.env.ROOST_FROM_SOURCE = '1'

useVmCluster(test, vm, { appDir: demoAppDir(), name: 'demo', prefix: 'roost-node-it-' })

const get = async (m: MachineView, path: string): Promise<string> => {
  const r = await retry(async () => { const x = await httpGet(m.endpoint, path, 10_000); return x?.status === 200 ? x : undefined }, { timeoutMs: START_MS, what: `${m.id} answering ${path}` })
  return r.text.trim()
}

run('the Node.js demo app boots in a VM and serves with its machine id', async t => {
  const { image } = t.context
  const c = await machinesClient(t.context.h1.dataDir)
  const t0 = Date.now()
  const m0 = await c.create(APP, { config: { image: image.digest, restart: { policy: 'no' } } })
  const m = await c.wait(APP, m0.id, 'started', START_MS)
  t.is(await get(m, '/'), `hello from roost machine ${m.id}`)
  t.log(`kernel ${image.kernelKind ?? 'distribution'} ${image.kernelVersion}: create → HTTP ${Date.now() - t0} ms; image ${Math.round(image.sizeBytes / 1e6)} MB`)
  const info = JSON.parse(await get(m, '/info')) as { machine: string, hostname: string, node: string }
  t.is(info.machine, m.id)
  t.is(info.hostname, m.id, 'the guest is named after its machine')
  t.is(info.node, process.version, 'the guest runs the host\'s node')
  t.is(await get(m, '/count'), '1')
  t.is(await get(m, '/count'), '2')
  await c.destroy(APP, m.id, true)
})

run('warm clones of the Node.js app answer with their own ids', async t => {
  const c = await machinesClient(t.context.h1.dataDir)
  const config = { image: t.context.image.digest, from_snapshot: true, restart: { policy: 'no' as const } }
  const ms: MachineView[] = []
  for (let i = 0; i < 2; i++) {
    const t0 = Date.now()
    const m0 = await c.create(APP, { config })
    const m = await c.wait(APP, m0.id, 'started', START_MS)
    t.is(await get(m, '/'), `hello from roost machine ${m.id}`)
    t.log(`clone ${i + 1}: create → HTTP ${Date.now() - t0} ms${i === 0 ? ' (builds the snapshot)' : ''}`)
    t.is(m.boot?.mode, 'clone')
    ms.push(m)
  }
  const [a, b] = ms as [MachineView, MachineView]
  t.not(a.id, b.id)
  t.is(JSON.parse(await get(b, '/info')).hostname, b.id)
  t.is(await get(a, '/count'), '1')
  t.is(await get(b, '/count'), '1')
  for (const m of ms) await c.destroy(APP, m.id, true)
})
