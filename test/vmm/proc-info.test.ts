import test from 'ava'
import { spawn } from 'node:child_process'
import { isSameProcess, parseProcStat, readProcStat, readRssBytes, readStartTicks } from '../../src/vmm/proc-info.js'
import { retry } from '../helpers/retry.js'

test('parses field 22 even when comm holds spaces and parentheses', t => {
  const line = '4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 987654 1000 200 18446744073709551615\n'
  t.deepEqual(parseProcStat(line), { pid: 4242, state: 'S', startTicks: 987654 })
  t.is(parseProcStat('garbage'), null)
})

test('reads this process and tells a live pid from a stale record', t => {
  const ticks = readStartTicks(process.pid)
  t.true(typeof ticks === 'number' && ticks > 0)
  t.true(isSameProcess(process.pid, ticks ?? 0))
  t.false(isSameProcess(process.pid, (ticks ?? 0) + 1))
  t.is(readProcStat(process.pid)?.pid, process.pid)
  t.true((readRssBytes(process.pid) ?? 0) > 0)
})

test('a pid that is gone (or a zombie) is not the same process', async t => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' })
  const pid = child.pid ?? 0
  t.teardown(() => { child.kill('SIGKILL') })
  const ticks = readStartTicks(pid)
  t.not(ticks, null)
  t.true(isSameProcess(pid, ticks ?? 0))
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await retry(() => !isSameProcess(pid, ticks ?? 0), { timeoutMs: 5000, what: 'pid gone' })
  await exited
  t.is(readStartTicks(pid), null)
  t.false(isSameProcess(0, 1))
  t.false(isSameProcess(-5, 1))
})
