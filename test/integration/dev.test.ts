import test from 'ava'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'
import { retry } from '../helpers/retry.js'

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('roost dev starts a bootstrap and 3 agents, shows their membership, and stops everything on Ctrl-C', async t => {
  const dir = await tempDir(t, 'roost-dev-')
  // Its own process group, so a failed test can kill roost dev and every child it started.
  const child = spawn(process.execPath, [BIN, 'dev', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  t.teardown(() => {
    if (child.pid === undefined) return
    try { process.kill(-child.pid, 'SIGKILL') } catch {}
  })

  await retry(() => out.includes('Ctrl-C stops everything'), { timeoutMs: 60_000, what: 'cluster ready and its membership printed' })
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
})
