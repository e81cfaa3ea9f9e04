import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { appRuntime, GUEST_NODE_PATH, nodeRuntimeLayer, parseLdd } from '../../../src/vmm/image/node-runtime.js'

const DEMO = fileURLToPath(new URL('../../../src/cli/demo-app', import.meta.url))
const COUNTER = fileURLToPath(new URL('../../fixtures/apps/counter', import.meta.url))

test('parseLdd lists the libraries and the loader, not the vdso', t => {
  const text = [
    '\tlinux-vdso.so.1 (0x00007ffd)',
    '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f3e)',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3e)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f3e)'
  ].join('\n')
  t.deepEqual(parseLdd(text), ['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'])
})

test('an app needs node when its roost.json or its run says so', async t => {
  t.is(await appRuntime(DEMO), 'node', 'the demo app (roost.json)')
  t.is(await appRuntime(COUNTER), null, 'the busybox counter')
  const dir = await mkdtemp(join(tmpdir(), 'roost-noderuntime-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await writeFile(join(dir, 'run'), '#!/usr/bin/env node\nconsole.log(1)\n')
  t.is(await appRuntime(dir), 'node', 'a node shebang')
  await writeFile(join(dir, 'roost.json'), '{"runtime":"python"}')
  const err = await t.throwsAsync(appRuntime(dir))
  t.is((err as { code?: string }).code, 'ERR_IMAGE')
})

test('the runtime layer carries node and its libraries, and is cached', async t => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'roost-noderuntime-cache-'))
  t.teardown(async () => { await rm(cacheDir, { recursive: true, force: true }) })
  const first = await nodeRuntimeLayer({ cacheDir })
  t.false(first.cached)
  t.true(first.contentBytes > 10_000_000)
  const cpio = gunzipSync(await readFile(first.path))
  const names = new Set<string>()
  // newc: 110-byte header, name size at offset 94 (8 hex), file size at 54.
  for (let off = 0; off < cpio.length;) {
    const nameSize = parseInt(cpio.toString('latin1', off + 94, off + 102), 16)
    const fileSize = parseInt(cpio.toString('latin1', off + 54, off + 62), 16)
    const name = cpio.toString('latin1', off + 110, off + 110 + nameSize - 1)
    if (name === 'TRAILER!!!') break
    names.add(name)
    off += Math.ceil((110 + nameSize) / 4) * 4
    off += Math.ceil(fileSize / 4) * 4
  }
  t.true(names.has(GUEST_NODE_PATH))
  const libs = parseLdd(execFileSync('ldd', [process.execPath], { encoding: 'utf8' })).map(l => l.replace(/^\//, ''))
  for (const l of libs) t.true(names.has(l), `${l} is in the layer`)
  const again = await nodeRuntimeLayer({ cacheDir })
  t.true(again.cached)
  t.is(again.path, first.path)
})
