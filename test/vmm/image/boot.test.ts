import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test, { type ExecutionContext } from 'ava'
import { silentLogger } from '../../../src/log/logger.js'
import { buildImage, type BuiltImage } from '../../../src/vmm/image/build.js'
import { retry } from '../../helpers/retry.js'
import { requireParts } from '../../helpers/requirements.js'
import { releaseVmLock, vmLockFor, type VmLock } from '../../helpers/vm-lock.js'
import { tempDir } from '../../helpers/cli.js'
import { bootImage, within } from './boot-vm.js'
import { BOOT_PARTS, KERNEL_BUILD_TIMEOUT_MS } from './image-helpers.js'

// A real build (the first one downloads ~28 MB of Debian packages into the shared cache) and
// real TCG boots of the counter app, one VM at a time.
const COUNTER = fileURLToPath(new URL('../../fixtures/apps/counter', import.meta.url))
const bootTest = await requireParts(test, BOOT_PARTS)
let imagesDir: string | undefined
let image: BuiltImage | undefined

let vms: VmLock | undefined
test.before(async () => { vms = await vmLockFor(bootTest) })

test.after.always(async () => {
  await releaseVmLock(vms)
  if (imagesDir !== undefined) await rm(imagesDir, { recursive: true, force: true })
})

/** The counter image, built once for this file's tests (into a store removed after them). */
async function counterImage (t: ExecutionContext): Promise<BuiltImage> {
  if (image === undefined) {
    t.timeout(KERNEL_BUILD_TIMEOUT_MS)
    imagesDir = await mkdtemp(join(tmpdir(), 'roost-boot-images-'))
    const started = Date.now()
    image = await buildImage({ appDir: COUNTER, imagesDir, name: 'counter' }, { logger: silentLogger() })
    t.log(`built ${image.digest.slice(0, 12)} in ${Date.now() - started} ms (${image.sizeBytes} bytes)`)
  }
  return image
}

bootTest.serial('the counter image boots: HTTP answers, the counter lives in guest memory, the power button stops it', async t => {
  const img = await counterImage(t)
  const work = await tempDir(t, 'roost-vm-')
  const vm = await bootImage(t, img, img.dir, work, { ROOST_MACHINE_ID: 'boot-m1' })
  const page = await retry(async () => {
    const r = await vm.get('/')
    return r.status === 200 ? r.body : undefined
  }, { timeoutMs: 90_000, intervalMs: 50, what: 'guest HTTP on the forwarded port' })
  t.log(`spawn → HTTP 200 in ${Date.now() - vm.spawnedAt} ms`)
  t.regex(page, /boot-m1/)
  t.is((await vm.get('/cgi-bin/count')).body.trim(), '1')
  t.is((await vm.get('/cgi-bin/count')).body.trim(), '2')
  const asked = Date.now()
  await vm.qmp('system_powerdown')
  const exit = await within(vm.exited, 30_000)
  t.truthy(exit, 'qemu exits after system_powerdown')
  t.log(`system_powerdown → qemu exit in ${Date.now() - asked} ms`)
  const log = await vm.console()
  t.regex(log, /^roost-exit: 0\r?$/m, log)
  t.regex(log, /roost-init: power button/)
  t.notRegex(log, /roost-init: .*fail/i, 'no init step failed')
})

bootTest.serial('when the app exits, init writes its exit code and the VM powers off by itself', async t => {
  const img = await counterImage(t)
  const work = await tempDir(t, 'roost-vm-')
  const vm = await bootImage(t, img, img.dir, work, { ROOST_MACHINE_ID: 'boot-m2' })
  await retry(async () => (await vm.get('/')).status === 200, { timeoutMs: 90_000, intervalMs: 50, what: 'guest HTTP on the forwarded port' })
  t.log(`spawn → HTTP 200 in ${Date.now() - vm.spawnedAt} ms`)
  t.is((await vm.get('/cgi-bin/count')).body.trim(), '1', 'a fresh boot starts from 0')
  const r = await vm.get('/cgi-bin/exit?code=3')
  t.is(r.status, 200)
  const exit = await within(vm.exited, 30_000)
  t.truthy(exit, 'qemu exits by itself')
  t.is(exit?.code, 0)
  const log = await vm.console()
  t.regex(log, /^roost-exit: 3\r?$/m, log)
})

bootTest.serial('an app that ignores SIGTERM is killed after ROOST_KILL_TIMEOUT on the power button', async t => {
  const src = await tempDir(t, 'roost-stubborn-')
  await mkdir(join(src, 'www'))
  await writeFile(join(src, 'www', 'index.html'), 'stubborn\n')
  await writeFile(join(src, 'run'), "#!/bin/sh\ntrap '' TERM\nexec httpd -f -p \"$PORT\" -h /app/www\n", { mode: 0o755 })
  await counterImage(t)
  const img = await buildImage({ appDir: src, imagesDir: imagesDir ?? '', name: 'stubborn' }, { logger: silentLogger() })
  const work = await tempDir(t, 'roost-vm-')
  const vm = await bootImage(t, img, img.dir, work, { ROOST_MACHINE_ID: 'boot-m3', ROOST_KILL_TIMEOUT: '1' })
  await retry(async () => (await vm.get('/')).status === 200, { timeoutMs: 90_000, intervalMs: 50, what: 'guest HTTP on the forwarded port' })
  await vm.qmp('system_powerdown')
  const exit = await within(vm.exited, 30_000)
  t.truthy(exit, 'qemu exits after the kill timeout')
  const log = await vm.console()
  t.regex(log, /still running after 1s: SIGKILL/, log)
  t.regex(log, /^roost-exit: 137\r?$/m, log)
})
