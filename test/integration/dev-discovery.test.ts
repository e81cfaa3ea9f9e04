import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { MemberView } from '../../src/api/control-api.js'
import { DEV_POINTER_FILE } from '../../src/cli/dev-pointer.js'
import { BIN, roost, tempDir } from '../helpers/cli.js'
import { killProcessesUnder } from '../helpers/machines.js'
import { retry } from '../helpers/retry.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// Every command below runs bare: nothing but the folder may tell it where the agent is.
delete process.env.ROOST_DATA_DIR

test('while roost dev runs, a bare `roost members` from the same folder talks to it; after it stops, the pointer is gone', async t => {
  t.timeout(300_000)
  // roost dev binds fixed ports on 127.0.0.1 (h1's backhaul), as the other roost dev tests do.
  t.teardown(await acquireVmLock())
  const folder = await tempDir(t, 'roost-dev-folder-')
  // An empty home: a bare command must not find an agent at ~/.roost by chance.
  const home = join(folder, 'home')
  await mkdir(home)
  const env = { ...process.env, HOME: home }
  const child = spawn(process.execPath, [BIN, 'dev', '--hosts', '2', '--demo', '0', '--driver', 'process'], { cwd: folder, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const exit = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  t.teardown(() => {
    if (child.pid !== undefined) { try { process.kill(-child.pid, 'SIGKILL') } catch {} }
    killProcessesUnder(folder)
  })
  await retry(() => out.includes('Ctrl-C stops everything'), { timeoutMs: 240_000, what: 'roost dev ready' })
    .catch((err: Error) => { t.log(out.slice(-4000)); throw err })
  const pointer = join(folder, DEV_POINTER_FILE)
  t.true(existsSync(pointer), `${DEV_POINTER_FILE} in the folder roost dev runs in`)
  t.is((JSON.parse(readFileSync(pointer, 'utf8')) as { dataDir: string }).dataDir, join(folder, '.roost', 'dev', 'h1'))

  const run = async (args: string[]): ReturnType<typeof roost> => await roost(args, { cwd: folder, env: { HOME: home } })
  const members = await run(['members', '--json'])
  t.is(members.code, 0, members.stderr)
  const views = JSON.parse(members.stdout) as MemberView[]
  t.deepEqual(views.map(m => m.name).sort(), ['h1', 'h2'])
  t.is(views.find(m => m.self)?.name, 'h1', 'the first host answers')
  const info = await run(['agent', 'info', '--json'])
  t.is(info.code, 0, info.stderr)

  child.kill('SIGINT')
  t.is(await exit, 0, out)
  t.false(existsSync(pointer), 'roost dev removes its pointer on exit')
  const after = await run(['members'])
  t.not(after.code, 0)
  t.regex(after.stderr, new RegExp(`no agent on ${home.replace(/[.]/g, '\\.')}/\\.roost/control\\.sock`))
})
