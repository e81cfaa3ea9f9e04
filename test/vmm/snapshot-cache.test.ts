import test from 'ava'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/log/logger.js'
import { createSnapshotCache, snapshotKey, type SnapshotKeyParts } from '../../src/vmm/snapshot-cache.js'

const parts: SnapshotKeyParts = { imageDigest: 'a'.repeat(64), kernel: '/img/vmlinux', kernelStamp: '100:1', cpus: 1, memoryMb: 128, accel: 'tcg', qemuVersion: '7.2.22' }

test('the key changes with every part a snapshot depends on', t => {
  const k = snapshotKey(parts)
  t.regex(k, /^[0-9a-f]{32}$/)
  t.is(snapshotKey({ ...parts }), k, 'same parts, same key')
  const changed: Array<Partial<SnapshotKeyParts>> = [
    { imageDigest: 'b'.repeat(64) }, { kernel: '/other' }, { kernelStamp: '100:2' }, { cpus: 2 }, { memoryMb: 256 }, { accel: 'kvm' }, { qemuVersion: '8.0.0' }
  ]
  const keys = new Set(changed.map(c => snapshotKey({ ...parts, ...c })))
  t.is(keys.size, changed.length)
  t.false(keys.has(k))
})

test('lookup finds a complete snapshot and ignores a damaged or foreign one', async t => {
  const cacheDir = await mkdtemp(join(tmpdir(), 'roost-snapcache-'))
  t.teardown(async () => { await rm(cacheDir, { recursive: true, force: true }) })
  const cache = createSnapshotCache({ cacheDir }, { logger: silentLogger() })
  t.is(await cache.lookup(parts), null)
  const key = snapshotKey(parts)
  const dir = join(cacheDir, 'snapshots', key)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'meta.json'), JSON.stringify({ key, parts, createdAt: 'then' }))
  await writeFile(join(dir, 'state.bin'), 'state')
  t.is(await cache.lookup(parts), null, 'no ram.img: not usable')
  await writeFile(join(dir, 'ram.img'), 'ram')
  const found = await cache.lookup(parts)
  t.is(found?.key, key)
  t.is(found?.statePath, join(dir, 'state.bin'))
  t.is(found?.ramPath, join(dir, 'ram.img'))
  t.true(found?.cached)
  await writeFile(join(dir, 'meta.json'), JSON.stringify({ key: 'other', parts, createdAt: 'then' }))
  t.is(await cache.lookup(parts), null, 'meta for another key')
  await cache.remove(key)
  t.is(await cache.lookup(parts), null)
})
