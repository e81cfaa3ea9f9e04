import { randomBytes } from 'node:crypto'
import { chmod, cp, lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { ImageError } from '../../../src/errors/errors.js'
import { silentLogger } from '../../../src/log/logger.js'
import { appLayerEntries } from '../../../src/vmm/image/app-layer.js'
import { createImageStore, type ImagePut } from '../../../src/vmm/image/image-store.js'
import { tempDir } from '../../helpers/cli.js'

async function fixture (t: ExecutionContext): Promise<{ dir: string, input: (name?: string) => Promise<ImagePut> }> {
  const dir = await tempDir(t, 'roost-store-')
  const kernel = join(dir, 'vmlinuz')
  await writeFile(kernel, randomBytes(4096))
  const app = join(dir, 'appsrc')
  await mkdir(app)
  await writeFile(join(app, 'run'), '#!/bin/sh\nexec sleep 1\n')
  await chmod(join(app, 'run'), 0o755)
  await symlink('run', join(app, 'start'))
  const appEntries = await appLayerEntries(app)
  return {
    dir,
    input: async (name?: string) => ({
      kernel,
      initrdLayers: [Buffer.from('base'), randomBytes(64)],
      appEntries,
      kernelVersion: '6.1.0-test',
      modules: ['virtio'],
      ...(name === undefined ? {} : { name })
    })
  }
}

test('put stores kernel, initrd, app/ and a manifest; resolve finds it by digest, sha256:, prefix and name', async t => {
  const { dir, input } = await fixture(t)
  const store = createImageStore({ imagesDir: join(dir, 'images') }, { logger: silentLogger() })
  const img = await store.put(await input('web'))
  t.false(img.reused)
  t.regex(img.digest, /^[0-9a-f]{64}$/)
  t.is(img.dir, join(dir, 'images', img.digest))
  t.is((await readFile(join(img.dir, img.initrd))).subarray(0, 4).toString(), 'base')
  t.deepEqual(await readFile(join(img.dir, img.kernel)), await readFile(join(dir, 'vmlinuz')))
  t.is((await lstat(join(img.dir, 'app', 'run'))).mode & 0o777, 0o755)
  t.is(await readlink(join(img.dir, 'app', 'start')), 'run')
  for (const ref of [img.digest, `sha256:${img.digest}`, img.digest.slice(0, 12), img.digest.slice(0, 20), 'web']) {
    t.is((await store.resolve(ref)).digest, img.digest, ref)
  }
  await t.throwsAsync(store.resolve(img.digest.slice(0, 11)), { instanceOf: ImageError })
  await t.throwsAsync(store.resolve('nope'), { instanceOf: ImageError, message: /no image nope/ })
  await t.throwsAsync(store.resolve('f'.repeat(64)), { instanceOf: ImageError })
})

test('equal content is stored once; a name follows the newest build', async t => {
  const { dir, input } = await fixture(t)
  const store = createImageStore({ imagesDir: join(dir, 'images') }, { logger: silentLogger() })
  const first = await input('api')
  const a = await store.put(first)
  const again = await store.put(first)
  t.true(again.reused)
  t.is(again.digest, a.digest)
  const b = await store.put(await input('api'))
  t.not(b.digest, a.digest)
  t.is((await store.resolve('api')).digest, b.digest)
  const list = await store.list()
  t.deepEqual(list.map(i => i.digest).sort(), [a.digest, b.digest].sort())
  t.deepEqual(list.find(i => i.digest === b.digest)?.names, ['api'])
  t.deepEqual(list.find(i => i.digest === a.digest)?.names, [])
  const removed = await store.remove('api')
  t.is(removed.digest, b.digest)
  await t.throwsAsync(store.resolve('api'), { instanceOf: ImageError })
  t.is((await store.resolve(a.digest)).digest, a.digest)
  await t.throwsAsync(store.put({ ...first, name: 'not a name!' }), { instanceOf: ImageError })
})

test('an ambiguous prefix and a corrupt manifest are ImageErrors naming the problem', async t => {
  const { dir, input } = await fixture(t)
  const imagesDir = join(dir, 'images')
  const store = createImageStore({ imagesDir }, { logger: silentLogger() })
  const img = await store.put(await input())
  const twinDigest = img.digest.slice(0, 16) + 'f'.repeat(48)
  const twin = join(imagesDir, twinDigest)
  await cp(img.dir, twin, { recursive: true, verbatimSymlinks: true })
  const manifest = JSON.parse(await readFile(join(twin, 'manifest.json'), 'utf8')) as Record<string, unknown>
  await writeFile(join(twin, 'manifest.json'), JSON.stringify({ ...manifest, digest: twinDigest }))
  await t.throwsAsync(store.resolve(img.digest.slice(0, 12)), { instanceOf: ImageError, message: /ambiguous/ })
  t.is((await store.resolve(twinDigest)).digest, twinDigest)

  await writeFile(join(twin, 'manifest.json'), JSON.stringify({ ...manifest, digest: twinDigest, schema: 2 }))
  const bad = await t.throwsAsync(store.resolve(twinDigest), { instanceOf: ImageError })
  t.true(bad?.message.includes(join(twin, 'manifest.json')))
  await writeFile(join(twin, 'manifest.json'), '{ not json')
  await t.throwsAsync(store.resolve(twinDigest), { instanceOf: ImageError, message: new RegExp(`corrupt image ${join(twin, 'manifest.json')}`) })
  await writeFile(join(twin, 'manifest.json'), JSON.stringify(manifest))
  await t.throwsAsync(store.resolve(twinDigest), { instanceOf: ImageError, message: /does not match/ })
  // list skips the corrupt entry and still shows the good one.
  t.deepEqual((await store.list()).map(i => i.digest), [img.digest])
  await writeFile(join(imagesDir, 'names.json'), '[1]')
  await t.throwsAsync(store.resolve('some-name'), { instanceOf: ImageError, message: /names\.json/ })
})
