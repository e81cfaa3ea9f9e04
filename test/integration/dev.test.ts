import test from 'ava'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'
import { httpGet, killRecordedVms, recordedVmPids } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('roost dev starts a bootstrap and 3 agents, deploys the demo app on 2 machines, and stops everything on Ctrl-C', async t => {
  t.timeout(600_000)
  t.teardown(await acquireVmLock())
  const dir = await tempDir(t, 'roost-dev-')
  // Its own process group, so a failed test can kill roost dev and every child it started.
  const child = spawn(process.execPath, [BIN, 'dev', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  t.teardown(() => {
    if (child.pid !== undefined) { try { process.kill(-child.pid, 'SIGKILL') } catch {} }
    for (const name of ['h1', 'h2', 'h3']) killRecordedVms(join(dir, name))
  })

  await retry(() => out.includes('Ctrl-C stops everything'), { timeoutMs: 200_000, what: 'cluster ready, demo deployed' })
  t.regex(out, /app 'demo' is up/)
  const endpoints = [...out.matchAll(/^[0-9a-f]{14}\s+demo-\d\s+[0-9a-f]{12}\s+\S+\s+started\s+(http:\/\/127\.0\.0\.1:(\d+)\/)/gm)].map(m => Number(m[2]))
  t.is(endpoints.length, 2, out)
  for (const port of endpoints) t.regex((await httpGet({ host: '127.0.0.1', port }))?.text ?? '', /hello from roost machine [0-9a-f]{14}/)
  const vmPids = ['h1', 'h2', 'h3'].flatMap(name => recordedVmPids(join(dir, name)).map(r => r.pid))
  t.is(vmPids.length, 2)
  for (const name of ['h1', 'h2', 'h3']) t.regex(out, new RegExp(`^${name}( \\*)?\\s+[0-9a-f]{12}\\s+alive`, 'm'))
  const pids: number[] = []
  for (const name of ['h1', 'h2', 'h3']) {
    const info = JSON.parse(await readFile(join(dir, name, 'agent.json'), 'utf8')) as { pid: number }
    pids.push(info.pid)
  }
  t.true(pids.every(alive))

  const exit = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  child.kill('SIGINT')
  t.is(await exit, 0)
  t.regex(out, /all processes stopped/)
  t.true(pids.every(pid => !alive(pid)), 'no agent process is left behind')
  t.true(vmPids.every(pid => !alive(pid)), 'no VM is left behind')
})
