import { readFile, stat } from 'node:fs/promises'
import test, { type ExecutionContext } from 'ava'
import { ImageError } from '../../../src/errors/errors.js'
import { silentLogger } from '../../../src/log/logger.js'
import { ensureGuestKernel, type GuestKernel, type KernelProgress } from '../../../src/vmm/image/kernel-build.js'
import { parseKernelConfig } from '../../../src/vmm/image/kernel-config.js'
import { pvhEntryOf } from '../../../src/vmm/image/kernel-elf.js'
import { tempDir } from '../../helpers/cli.js'
import { requireParts } from '../../helpers/requirements.js'
import { KERNEL_BUILD_TIMEOUT_MS } from './image-helpers.js'

// The first run on a machine builds the kernel into the shared cache; later runs find it there.
const BUILD_TIMEOUT_MS = KERNEL_BUILD_TIMEOUT_MS

const kernelTest = await requireParts(test, ['kernel-build-tools'])

async function check (t: ExecutionContext, k: GuestKernel): Promise<void> {
  const vmlinux = await readFile(k.vmlinux)
  t.not(pvhEntryOf(vmlinux), null, 'vmlinux has the PVH entry note QEMU boots it through')
  const bz = await readFile(k.bzImage)
  t.is(bz.toString('latin1', 0x202, 0x206), 'HdrS', 'bzImage has the x86 boot header')
  const config = parseKernelConfig(await readFile(k.config, 'utf8'))
  t.is(config.get('CONFIG_PVH'), 'y')
  t.is(config.get('CONFIG_VIRTIO_NET'), 'y')
  t.is(config.get('CONFIG_MODULES') ?? 'n', 'n')
  t.regex(k.version, /^6\.1\.\d+-roost$/)
  t.regex(k.key, /^[0-9a-f]{64}$/)
  t.true(k.dir.endsWith(k.key))
}

kernelTest.serial('the minimal kernel is built once (concurrent callers share the build) and cached by key', async t => {
  t.timeout(BUILD_TIMEOUT_MS)
  const steps: KernelProgress[] = []
  const started = Date.now()
  const [a, b] = await Promise.all([
    ensureGuestKernel({ onProgress: p => steps.push(p) }, { logger: silentLogger() }),
    ensureGuestKernel({}, { logger: silentLogger() })
  ])
  t.log(`${a.cached && b.cached ? 'cached' : 'built'} ${a.version} (${a.key.slice(0, 12)}) in ${Math.round((Date.now() - started) / 1000)} s`)
  t.is(a.key, b.key)
  t.is(a.vmlinux, b.vmlinux)
  t.false(!a.cached && !b.cached, 'only one of two concurrent callers builds')
  if (!a.cached) {
    for (const s of ['kernel-download', 'kernel-extract', 'kernel-configure', 'kernel-compile', 'kernel-install'] as const) {
      t.true(steps.some(p => p.step === s), `progress reported ${s}`)
    }
  }
  await check(t, a)
  const again = await ensureGuestKernel({}, { logger: silentLogger() })
  t.true(again.cached)
  t.is(again.key, a.key)
  t.is((await stat(again.vmlinux)).mtimeMs, (await stat(a.vmlinux)).mtimeMs, 'the cached kernel is not rebuilt')
})

kernelTest.serial('a fragment Kconfig cannot honour fails at the configure step, naming the option', async t => {
  t.timeout(BUILD_TIMEOUT_MS)
  const cacheDir = await tempDir(t, 'roost-kernel-')
  const err = await t.throwsAsync(ensureGuestKernel({ cacheDir, fragment: 'CONFIG_64BIT=y\nCONFIG_ROOST_NO_SUCH_OPTION=y\n' }, { logger: silentLogger() }), { instanceOf: ImageError })
  t.regex(err?.message ?? '', /^kernel-configure: .*CONFIG_ROOST_NO_SUCH_OPTION: wanted y, got n/)
  t.is(err?.details?.step, 'kernel-configure')
})
