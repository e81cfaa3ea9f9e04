import anyTest, { type TestFn } from 'ava'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { COUNTER_APP, httpGet, machinesClient } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { requireParts } from '../helpers/requirements.js'
import { useVmCluster, VM_CLUSTER_PARTS, type VmCluster } from '../helpers/vm-cluster.js'

const test = anyTest as TestFn<VmCluster>

const vm = await requireParts(test, VM_CLUSTER_PARTS)
const run = vm.serial
const runRoot = (await requireParts(test, [...VM_CLUSTER_PARTS, 'root'])).serial
const APP = 'clones'
/** The first clone also boots the template and snapshots it. */
const FIRST_START_S = 240
const BOOT_MS = 60_000
// The agents run this tree's TypeScript, not a possibly stale dist/.
process.env.ROOST_FROM_SOURCE = '1'

useVmCluster(test, vm, { appDir: COUNTER_APP, name: 'counter', prefix: 'roost-clone-it-' })

const page = async (m: MachineView, path = '/'): Promise<string> => {
  const r = await retry(async () => { const x = await httpGet(m.endpoint, path, 10_000); return x?.status === 200 ? x : undefined }, { timeoutMs: BOOT_MS, what: `${m.id} answering ${path}` })
  return r.text.trim()
}

run('two machines started from one warm snapshot answer with their own ids and keep their own memory', async t => {
  const c = await machinesClient(t.context.h1.dataDir)
  // A non-ASCII value: the identity goes base64 (the namespace test below sends it as plain lines).
  const config = { image: t.context.image.digest, from_snapshot: true, restart: { policy: 'no' as const }, env: { GREETING: 'héllo' } }
  const a0 = await c.create(APP, { config })
  const a = await c.wait(APP, a0.id, 'started', FIRST_START_S * 1000)
  const b0 = await c.create(APP, { config })
  const b = await c.wait(APP, b0.id, 'started', BOOT_MS)
  t.not(a.id, b.id)
  for (const m of [a, b]) {
    t.is(m.boot?.mode, 'clone', `${m.id} says it started from a snapshot`)
    t.regex(m.events.find(e => e.type === 'launch')?.message ?? '', /warm clone of snapshot [0-9a-f]+/)
  }
  t.truthy(a.boot?.snapshot)
  t.is(a.boot?.snapshot, b.boot?.snapshot, 'both clones come from the same snapshot')
  t.not(a.endpoint?.port, b.endpoint?.port)
  t.regex(await page(a), new RegExp(`counter on roost machine ${a.id}`))
  t.regex(await page(b), new RegExp(`counter on roost machine ${b.id}`))
  // Separate guests: each counter starts at 0 in its own memory.
  t.is(await page(a, '/cgi-bin/count'), '1')
  t.is(await page(a, '/cgi-bin/count'), '2')
  t.is(await page(b, '/cgi-bin/count'), '1')
  const logs = await c.logs(APP, b.id)
  t.notRegex(logs, /\/etc\/roost\/env is missing/, 'the clone got its settings')

  // A clone can be suspended and resumed like any machine: its memory comes back.
  await c.action(APP, a.id, 'suspend')
  await c.wait(APP, a.id, 'suspended', BOOT_MS)
  await c.action(APP, a.id, 'start')
  const ar = await c.wait(APP, a.id, 'started', BOOT_MS)
  t.is(ar.boot?.mode, 'resume')
  t.is(await page(ar, '/cgi-bin/count'), '3')

  // Restarted, it is cloned again: a fresh guest with the same id.
  await c.action(APP, b.id, 'restart')
  const br = await retry(async () => { const v = await c.get(APP, b.id); return v.state === 'started' && v.events[0]?.type === 'launch' && v }, { timeoutMs: BOOT_MS, what: 'b restarted' })
  t.is(br.boot?.mode, 'clone')
  t.regex(await page(br), new RegExp(`counter on roost machine ${b.id}`))
  t.is(await page(br, '/cgi-bin/count'), '1')
  for (const m of [a, b]) await c.destroy(APP, m.id, true)
})

runRoot('a warm clone in its own network namespace gets its own address', async t => {
  const c = await machinesClient(t.context.h1.dataDir)
  const config = { image: t.context.image.digest, from_snapshot: true, network: 'namespace' as const, restart: { policy: 'no' as const } }
  const ms: MachineView[] = []
  for (let i = 0; i < 2; i++) {
    const m0 = await c.create(APP, { config })
    ms.push(await c.wait(APP, m0.id, 'started', FIRST_START_S * 1000))
  }
  const [a, b] = ms as [MachineView, MachineView]
  t.is(a.boot?.mode, 'clone')
  t.not(a.endpoint?.host, b.endpoint?.host)
  t.regex(await page(a), new RegExp(`counter on roost machine ${a.id}`))
  t.regex(await page(b), new RegExp(`counter on roost machine ${b.id}`))
  for (const m of ms) await c.destroy(APP, m.id, true)
})
