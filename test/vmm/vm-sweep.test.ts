import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteMachineStore } from '../../src/vmm/machine-store.js'
import { isSameProcess, readStartTicks } from '../../src/vmm/proc-info.js'
import { killVms, liveVmsOf } from '../../src/vmm/vm-sweep.js'
import { retry } from '../helpers/retry.js'

const idle = (...args: string[]): number => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ...args], { detached: true, stdio: 'ignore' })
  child.unref()
  if (child.pid === undefined) throw new Error('no pid')
  return child.pid
}

test('the VMs an agent left: those its store records and those whose command line names a machine directory; killVms ends them', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-sweep-'))
  const pids: number[] = []
  t.teardown(async () => {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
    await rm(dir, { recursive: true, force: true })
  })
  const recorded = idle()
  const unrecorded = idle(join(dir, 'machines', 'bbbbbbbbbbbbbb', 'qmp.sock'))
  const elsewhere = idle(join(dir, 'images', 'x'))
  pids.push(recorded, unrecorded, elsewhere)
  const ticks = await retry(() => readStartTicks(recorded) ?? undefined, { what: 'process started' })
  const store = createSqliteMachineStore({ path: join(dir, 'machines.db') })
  store.put({ id: 'aaaaaaaaaaaaaa', app: 'a', record: { runtime: { pid: recorded, pidStartTicks: ticks } } })
  store.put({ id: 'cccccccccccccc', app: 'a', record: { runtime: { pid: recorded, pidStartTicks: ticks + 1 } } })
  store.put({ id: 'dddddddddddddd', app: 'a', record: { runtime: null } })
  store.close()

  const found = await retry(() => { const f = liveVmsOf(dir); return f.length === 2 ? f : undefined }, { what: 'both found' })
  t.deepEqual(found.map(v => [v.machineId, v.pid]).sort(), [['aaaaaaaaaaaaaa', recorded], ['bbbbbbbbbbbbbb', unrecorded]].sort())
  t.deepEqual(await killVms(found), [])
  t.false(isSameProcess(recorded, ticks))
  t.deepEqual(liveVmsOf(dir), [])
  t.true(readStartTicks(elsewhere) !== null, 'a process naming another path of the data dir is left alone')
})
