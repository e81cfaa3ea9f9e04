import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { silentLogger } from '../../../src/log/logger.js'
import { buildImage, type BuildProgress } from '../../../src/vmm/image/build.js'
import { createImageStore } from '../../../src/vmm/image/image-store.js'
import { pvhEntryOf } from '../../../src/vmm/image/kernel-elf.js'
import { obtainGuestParts } from '../../../src/vmm/image/debian-packages.js'
import { modinfoDepends } from '../../../src/vmm/image/kernel-modules.js'
import type { ImageManifest } from '../../../src/vmm/image/manifest.js'
import { tempDir } from '../../helpers/cli.js'
import { requireParts } from '../../helpers/requirements.js'
import { KERNEL_BUILD_TIMEOUT_MS } from './image-helpers.js'

const COUNTER = fileURLToPath(new URL('../../fixtures/apps/counter', import.meta.url))
const DEMO = fileURLToPath(new URL('../../../src/cli/demo-app', import.meta.url))
const CLI = fileURLToPath(new URL('./image-cli.ts', import.meta.url))
const buildTest = await requireParts(test, ['debian-tools'])
const minimalKernelTest = await requireParts(test, ['debian-tools', 'kernel-build-tools'])

/** Each guest module's `depends=`, from the distribution kernel's parts (cached by the build before). */
async function moduleDepends (kernelVersion: string): Promise<Map<string, string[]>> {
  const parts = await obtainGuestParts({}, { logger: silentLogger() })
  if (parts.kernelVersion !== kernelVersion) throw new Error(`the cached kernel is ${parts.kernelVersion}, the image's ${kernelVersion}`)
  return new Map(await Promise.all(parts.modules.map(async m => [m.name, modinfoDepends(await readFile(m.path))] as const)))
}

async function cli (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import=tsx', CLI, ...args], { timeout: 110_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

buildTest('building reports every step, reuses equal images, and rebuilds another app from the cached base', async t => {
  const imagesDir = join(await tempDir(t, 'roost-build-'), 'images')
  const steps: BuildProgress[] = []
  let started = Date.now()
  const a = await buildImage({ appDir: COUNTER, imagesDir, name: 'counter', kernel: 'distribution', onProgress: p => steps.push(p) }, { logger: silentLogger() })
  t.log(`counter: ${Date.now() - started} ms`)
  const order = [...new Set(steps.map(s => s.step))]
  t.deepEqual(order, ['resolve', 'download-kernel', 'download-busybox', ...(order.includes('extract') ? ['extract'] : []), 'base-initramfs', 'pack-app', 'store'])
  t.deepEqual([...a.modules].sort(), ['button', 'evdev', 'failover', 'net_failover', 'virtio', 'virtio_mmio', 'virtio_net', 'virtio_ring'])
  // Which of virtio and virtio_ring comes first depends on the kernel release; each module after what it depends on does not.
  const depends = await moduleDepends(a.kernelVersion)
  t.true((depends.get('virtio_net') ?? []).length > 0, 'virtio_net depends on something, so the order below is checked')
  a.modules.forEach((m, i) => {
    for (const d of depends.get(m) ?? []) if (a.modules.includes(d)) t.true(a.modules.indexOf(d) < i, `${d} is loaded before ${m} (order: ${a.modules.join(', ')})`)
  })
  t.regex(a.kernelVersion, /cloud-amd64$/)
  t.is(a.kernelKind, 'distribution')
  t.is(a.kernel, 'vmlinuz')

  started = Date.now()
  const again = await buildImage({ appDir: COUNTER, imagesDir, kernel: 'distribution' }, { logger: silentLogger() })
  t.log(`counter again: ${Date.now() - started} ms`)
  t.is(again.digest, a.digest)
  t.true(again.reused)

  const demoSteps: BuildProgress[] = []
  started = Date.now()
  const demo = await buildImage({ appDir: DEMO, imagesDir, name: 'demo', kernel: 'distribution', onProgress: p => demoSteps.push(p) }, { logger: silentLogger() })
  t.log(`demo (warm cache): ${Date.now() - started} ms`)
  t.not(demo.digest, a.digest)
  t.true(demoSteps.some(s => s.step === 'base-initramfs' && s.detail.startsWith('cached')))
  t.false(demoSteps.some(s => s.step === 'extract'))

  const store = createImageStore({ imagesDir }, { logger: silentLogger() })
  t.is((await store.resolve('demo')).digest, demo.digest)
  t.deepEqual((await store.list()).map(i => i.digest).sort(), [a.digest, demo.digest].sort())
})

minimalKernelTest.serial('the default image carries the minimal PVH kernel, no modules, and a plain base cpio', async t => {
  t.timeout(KERNEL_BUILD_TIMEOUT_MS)
  const imagesDir = join(await tempDir(t, 'roost-build-'), 'images')
  const steps: BuildProgress[] = []
  const started = Date.now()
  const img = await buildImage({ appDir: COUNTER, imagesDir, name: 'counter', onProgress: p => steps.push(p) }, { logger: silentLogger() })
  t.log(`counter (minimal kernel): ${Date.now() - started} ms`)
  t.is(img.kernelKind, 'minimal-pvh')
  t.is(img.kernel, 'vmlinux')
  t.deepEqual(img.modules, [])
  t.regex(img.kernelVersion, /^6\.1\.\d+-roost$/)
  t.not(pvhEntryOf(await readFile(join(img.dir, img.kernel))), null, 'the image kernel is the PVH vmlinux')
  const initrd = await readFile(join(img.dir, img.initrd))
  t.is(initrd.toString('latin1', 0, 6), '070701', 'the base layer is an uncompressed newc cpio')
  t.true(initrd.includes(Buffer.from([0x1f, 0x8b, 0x08])), 'the app layer after it is gzip')
  const order = [...new Set(steps.map(s => s.step))]
  t.true(order.indexOf('kernel-install') > order.indexOf('kernel-tools'))
  t.true(order.indexOf('base-initramfs') > order.indexOf('kernel-install'))
})

buildTest('concurrent builds of the same app into one store agree', async t => {
  const imagesDir = join(await tempDir(t, 'roost-build-'), 'images')
  const [a, b] = await Promise.all([
    buildImage({ appDir: COUNTER, imagesDir, name: 'x' }, { logger: silentLogger() }),
    buildImage({ appDir: COUNTER, imagesDir, name: 'x' }, { logger: silentLogger() })
  ])
  t.is(a.digest, b.digest)
  t.is((await createImageStore({ imagesDir }, { logger: silentLogger() }).list()).length, 1)
})

buildTest('roost image build prints the digest (or the manifest with --json); list shows it', async t => {
  const dataDir = await tempDir(t, 'roost-cli-')
  const built = await cli(['image', 'build', COUNTER, '--name', 'counter', '--kernel', 'distribution', '--data-dir', dataDir])
  t.is(built.code, 0, built.stderr)
  t.regex(built.stdout, /^[0-9a-f]{64}\n$/)
  t.regex(built.stderr, /store: /)
  const json = await cli(['image', 'build', COUNTER, '--kernel', 'distribution', '--data-dir', dataDir, '--json'])
  t.is(json.code, 0, json.stderr)
  const manifest = JSON.parse(json.stdout) as ImageManifest & { dir: string }
  t.is(manifest.digest, built.stdout.trim())
  t.is(manifest.dir, join(dataDir, 'images', manifest.digest))
  const list = await cli(['image', 'list', '--data-dir', dataDir])
  t.is(list.code, 0, list.stderr)
  t.regex(list.stdout, new RegExp(`${manifest.digest.slice(0, 12)}\\s+counter`))
  const listJson = JSON.parse((await cli(['image', 'list', '--json', '--images-dir', join(dataDir, 'images')])).stdout) as unknown[]
  t.is(listJson.length, 1)
  const bad = await cli(['image', 'build', COUNTER, '--kernel', 'bogus', '--data-dir', dataDir])
  t.is(bad.code, 1)
  t.regex(bad.stderr, /--kernel must be one of auto, minimal, distribution/)
})

minimalKernelTest('roost image kernel prints the cached kernel (built by the serial test above)', async t => {
  const r = await cli(['image', 'kernel', '--json'])
  t.is(r.code, 0, r.stderr)
  const k = JSON.parse(r.stdout) as { vmlinux: string, bzImage: string, key: string, version: string, cached: boolean }
  t.true(k.cached)
  t.regex(k.key, /^[0-9a-f]{64}$/)
  t.regex(r.stderr, new RegExp(`kernel ${k.version.replace(/\./g, '\\.')} \\(${k.key.slice(0, 12)}\\) cached`))
  t.not(pvhEntryOf(await readFile(k.vmlinux)), null)
  const plain = await cli(['image', 'kernel'])
  t.is(plain.stdout, `${k.vmlinux}\n`)
})

test('roost image build of a dir without run fails with ERR_IMAGE and exit code 1', async t => {
  const dir = await tempDir(t, 'roost-cli-')
  await mkdir(join(dir, 'app'))
  await writeFile(join(dir, 'app', 'README'), 'no run here')
  const r = await cli(['image', 'build', join(dir, 'app'), '--images-dir', join(dir, 'images')])
  t.is(r.code, 1)
  t.regex(r.stderr, /error ERR_IMAGE: app dir has no executable run/)
  t.is(r.stdout, '')
  const list = await cli(['image', 'list', '--images-dir', join(dir, 'images'), '--json'])
  t.is(list.code, 0)
  t.deepEqual(JSON.parse(list.stdout), [])
  const rm = await cli(['image', 'rm', 'nothing-here', '--images-dir', join(dir, 'images')])
  t.is(rm.code, 1)
  t.regex(rm.stderr, /ERR_IMAGE/)
})
