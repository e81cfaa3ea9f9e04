import test from 'ava'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'
import { killProcessesUnder, killRecordedVms, recordedVmPids } from '../helpers/machines.js'
import { checkParts, isCI, requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { acquireVmLock } from '../helpers/vm-lock.js'
import { isSameProcess } from '../../src/vmm/proc-info.js'

const DRIVER = (await checkParts(['qemu'])).ok ? 'qemu' : 'process'
const devTest = await requireParts(test, isCI() ? ['debian-tools', 'qemu'] : ['debian-tools'])

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

devTest(`Ctrl-C in a terminal (SIGINT to roost dev's whole process group): every agent stops its ${DRIVER} machines, and roost dev kills and names a VM an agent left behind`, async t => {
  t.timeout(600_000)
  t.teardown(await acquireVmLock())
  const dir = await tempDir(t, 'roost-dev-int-')
  // Its own process group, as a shell's foreground job: the group is what a terminal signals.
  // From its own folder: the pointer roost dev leaves there (.roost-dev.json) stays out of the repo.
  const child = spawn(process.execPath, [BIN, 'dev', '--dir', dir, '--hosts', '2', '--demo', '2'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const pgid = child.pid
  if (pgid === undefined) throw new Error('roost dev did not start')
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  t.teardown(() => {
    try { process.kill(-pgid, 'SIGKILL') } catch {}
    for (const name of ['h1', 'h2']) killRecordedVms(join(dir, name))
    killProcessesUnder(dir)
  })

  await retry(() => out.includes('Ctrl-C stops everything'), { timeoutMs: 400_000, what: 'cluster ready, demo deployed' })
    .catch((err: Error) => { t.log(out.slice(-4000)); throw err })
  const [vm1] = recordedVmPids(join(dir, 'h1'))
  const [vm2] = recordedVmPids(join(dir, 'h2'))
  if (vm1 === undefined || vm2 === undefined) throw new Error(`a demo machine on each host was expected:\n${out}`)
  const agentPid = async (name: string): Promise<number> => (JSON.parse(await readFile(join(dir, name, 'agent.json'), 'utf8')) as { pid: number }).pid
  const a1 = await agentPid('h1')
  const a2 = await agentPid('h2')

  // h2's agent dies without a word: its VM is left running, as after any agent crash.
  process.kill(a2, 'SIGKILL')
  await retry(() => out.includes('agent h2 exited'), { timeoutMs: 10_000, what: 'roost dev saw h2 go' })
  t.true(isSameProcess(vm2.pid, vm2.pidStartTicks))

  process.kill(-pgid, 'SIGINT')
  t.is(await exit, 0, out)
  t.false(alive(a1), 'h1\'s agent stopped')
  t.false(isSameProcess(vm1.pid, vm1.pidStartTicks), 'h1\'s VM stopped')
  t.false(isSameProcess(vm2.pid, vm2.pidStartTicks), 'the VM h2 left behind was killed')
  t.regex(await readFile(join(dir, 'h1', 'agent.log'), 'utf8'), /"msg":"agent stopped"/, 'h1 stopped cleanly, not cut short')
  t.regex(out, new RegExp(`h2: killed machine [0-9a-f]{14} \\(pid ${vm2.pid}\\)`), 'what roost dev had to kill is named')
  t.notRegex(out, new RegExp(`h1: killed`), 'h1 stopped its own machine')
  t.regex(out, /all processes stopped/)
})
