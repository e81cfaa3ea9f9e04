import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { ImageError } from '../../../src/errors/errors.js'
import { acquireBuildLock } from '../../../src/vmm/image/build-lock.js'
import { tempDir } from '../../helpers/cli.js'

test('a second builder waits until the first releases the lock', async t => {
  const dir = await tempDir(t, 'roost-lock-')
  const path = join(dir, 'k.lock')
  const releaseA = await acquireBuildLock({ path })
  t.is(await readFile(join(path, 'pid'), 'utf8'), String(process.pid))
  const order: string[] = []
  let waiting: (pid: number) => void = () => {}
  const waitedFor = new Promise<number>((resolve) => { waiting = resolve })
  const b = acquireBuildLock({ path, onWait: (pid) => { waiting(pid) } }).then((release) => { order.push('b acquired'); return release })
  t.is(await waitedFor, process.pid, 'b saw the lock held by this process')
  order.push('a releasing')
  await releaseA()
  const releaseB = await b
  t.deepEqual(order, ['a releasing', 'b acquired'])
  await releaseB()
  await releaseB()
})

test('a lock left by a dead process is taken over', async t => {
  const dir = await tempDir(t, 'roost-lock-')
  const path = join(dir, 'k.lock')
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  const deadPid = await new Promise<number>((resolve) => { child.once('exit', () => { resolve(child.pid ?? 0) }) })
  await mkdir(path)
  await writeFile(join(path, 'pid'), String(deadPid))
  const release = await acquireBuildLock({ path, maxWaitMs: 5_000 })
  t.is(await readFile(join(path, 'pid'), 'utf8'), String(process.pid))
  await release()
})

test('waiting past maxWaitMs is an ImageError naming the lock', async t => {
  const dir = await tempDir(t, 'roost-lock-')
  const path = join(dir, 'k.lock')
  const release = await acquireBuildLock({ path })
  t.teardown(release)
  const err = await t.throwsAsync(acquireBuildLock({ path, maxWaitMs: 600 }), { instanceOf: ImageError })
  t.regex(err?.message ?? '', /k\.lock stayed taken/)
})
