import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer } from 'node:net'
import test from 'ava'
import { DEV_POINTER_FILE, devPointerDataDir, removeDevPointer, writeDevPointer } from '../../src/cli/dev-pointer.js'
import { tempDir } from '../helpers/cli.js'

test('a pointer whose roost dev runs and whose agent socket exists names that data dir; it is removed by its writer', async t => {
  const folder = await tempDir(t, 'roost-pointer-')
  const dataDir = join(folder, '.roost', 'dev', 'h1')
  await mkdir(dataDir, { recursive: true })
  const server = createServer()
  await new Promise<void>(resolve => server.listen(join(dataDir, 'control.sock'), resolve))
  t.teardown(() => { server.close() })
  const notes: string[] = []
  t.is(devPointerDataDir(folder, n => notes.push(n)), undefined, 'no pointer: nothing, silently')
  writeDevPointer(folder, dataDir)
  t.is(devPointerDataDir(folder, n => notes.push(n)), dataDir)
  t.deepEqual(notes, [])
  removeDevPointer(folder)
  t.false(existsSync(join(folder, DEV_POINTER_FILE)))
})

test('a stale pointer (its roost dev gone, or no agent socket, or garbage) is ignored with a note saying why', async t => {
  const folder = await tempDir(t, 'roost-pointer-')
  const file = join(folder, DEV_POINTER_FILE)
  const cases: Array<[string, RegExp]> = [
    [JSON.stringify({ dataDir: folder, pid: process.pid, startTicks: 1 }), /roost dev \(pid \d+\) is no longer running/],
    [JSON.stringify({ dataDir: join(folder, 'nowhere'), pid: 2 ** 22 + 1, startTicks: 0 }), /is no longer running/],
    ['{not json', /not a roost dev pointer/]
  ]
  for (const [text, why] of cases) {
    await writeFile(file, text)
    const notes: string[] = []
    t.is(devPointerDataDir(folder, n => notes.push(n)), undefined, text)
    t.is(notes.length, 1)
    t.regex(notes[0] ?? '', why)
    t.true((notes[0] ?? '').includes(file))
  }
  writeDevPointer(folder, join(folder, 'no-agent-here'))
  const notes: string[] = []
  t.is(devPointerDataDir(folder, n => notes.push(n)), undefined)
  t.regex(notes[0] ?? '', /no agent socket at .*no-agent-here\/control\.sock/)
  removeDevPointer(folder)
})
