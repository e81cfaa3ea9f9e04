import { chmod, cp, mkdir, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import test from 'ava'
import { ImageError } from '../../../src/errors/errors.js'
import { appLayerEntries, packAppLayer } from '../../../src/vmm/image/app-layer.js'
import { createCpio, S_IFDIR, S_IFLNK, S_IFREG } from '../../../src/vmm/image/cpio.js'
import { tempDir } from '../../helpers/cli.js'

const COUNTER = fileURLToPath(new URL('../../fixtures/apps/counter', import.meta.url))

test('the app layer is deterministic: equal dirs give equal bytes, whatever their mtimes', async t => {
  const dir = await tempDir(t, 'roost-app-')
  const copy = join(dir, 'counter')
  await cp(COUNTER, copy, { recursive: true })
  await utimes(join(copy, 'run'), new Date(1_000_000), new Date(2_000_000))
  const a = await packAppLayer(COUNTER)
  const b = await packAppLayer(copy)
  t.true(a.data.equals(b.data))
  t.true((await packAppLayer(COUNTER)).data.equals(a.data))
  t.deepEqual(gunzipSync(a.data), createCpio(a.entries))
})

test('entries are sorted under app/, keep modes and symlinks, and carry mtime 0', async t => {
  const dir = await tempDir(t, 'roost-app-')
  await writeFile(join(dir, 'run'), '#!/bin/sh\n', { mode: 0o750 })
  await chmod(join(dir, 'run'), 0o750)
  await mkdir(join(dir, 'b-dir'))
  await writeFile(join(dir, 'b-dir', 'data'), 'x')
  await chmod(join(dir, 'b-dir', 'data'), 0o600)
  await writeFile(join(dir, 'a.txt'), 'a')
  await chmod(join(dir, 'a.txt'), 0o644)
  await symlink('b-dir/data', join(dir, 'z-link'))
  const entries = await appLayerEntries(dir)
  t.deepEqual(entries.map(e => e.path), ['app', 'app/a.txt', 'app/b-dir', 'app/b-dir/data', 'app/run', 'app/z-link'])
  const by = new Map(entries.map(e => [e.path, e]))
  t.is(by.get('app/run')?.mode, S_IFREG | 0o750)
  t.is((by.get('app/b-dir')?.mode ?? 0) & 0o170000, S_IFDIR)
  t.is(by.get('app/b-dir/data')?.mode, S_IFREG | 0o600)
  t.is(by.get('app/z-link')?.mode, S_IFLNK | 0o777)
  t.is(by.get('app/z-link')?.data?.toString(), 'b-dir/data')
  t.true(entries.every(e => e.mtime === undefined || e.mtime === 0))
})

test('an app dir without an executable run is refused', async t => {
  const dir = await tempDir(t, 'roost-app-')
  const missing = await t.throwsAsync(packAppLayer(dir), { instanceOf: ImageError })
  t.is(missing?.code, 'ERR_IMAGE')
  t.regex(missing?.message ?? '', /app dir has no executable run/)
  await writeFile(join(dir, 'run'), '#!/bin/sh\n')
  await chmod(join(dir, 'run'), 0o644)
  const notExec = await t.throwsAsync(packAppLayer(dir), { instanceOf: ImageError })
  t.regex(notExec?.message ?? '', /app dir has no executable run/)
  await t.throwsAsync(packAppLayer(join(dir, 'nope')), { instanceOf: ImageError, message: /does not exist/ })
})

test('runtime "node" (roost.toml\'s [build] runtime) puts node in the layer of an app that would not ask for it', async t => {
  const cacheDir = await tempDir(t, 'roost-app-cache-')
  const plain = await packAppLayer(COUNTER, { cacheDir })
  t.is(plain.runtime, undefined, 'a shell app gets no node by itself')
  const withNode = await packAppLayer(COUNTER, { cacheDir, runtime: 'node' })
  t.is(withNode.runtime, 'node')
  t.deepEqual(withNode.entries, plain.entries, 'the app\'s own entries are the same')
  t.true(withNode.data.length > plain.data.length + 1_000_000)
})
