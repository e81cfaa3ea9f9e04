import test from 'ava'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { findStaticBusybox, isStaticElf, probeAccel, probeBoot } from '../../src/vmm/accel-probe.js'
import { qemuAvailable } from '../../src/vmm/qemu-driver.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

const qemu = await qemuAvailable()
if (!qemu.ok && process.env.CI === 'true') throw new Error('qemu-system-x86_64 is required in CI')
const vmTest = qemu.ok ? test.serial : test.serial.skip

test('isStaticElf tells a static executable from a dynamic one', async t => {
  t.false(isStaticElf(await readFile(process.execPath)), 'node is dynamically linked')
  t.false(isStaticElf(Buffer.from('#!/bin/sh\n')))
  const busybox = await findStaticBusybox()
  if (busybox === null) {
    if (process.env.CI === 'true') t.fail('busybox-static is required in CI')
    else t.log('no static busybox on this host')
    return
  }
  t.true(isStaticElf(busybox))
})

vmTest('the probe boots under tcg; the kvm decision is made once and cached', async t => {
  t.teardown(await acquireVmLock())
  const root = await mkdtemp(join(tmpdir(), 'roost-accel-test-'))
  t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
  const image = await buildImage({ appDir: 'test/fixtures/apps/counter', imagesDir: join(root, 'images') }, { logger: silentLogger() })
  const kernel = join(image.dir, image.kernel)
  const qemuPath = qemu.path ?? 'qemu-system-x86_64'
  t.true(await probeBoot({ qemuPath, kernel, accel: 'tcg', timeoutMs: 60_000 }, { logger: silentLogger() }), 'the probe guest prints its marker under tcg')

  const init = { qemuPath, qemuVersion: qemu.version ?? 'unknown', kernel, cacheDir: join(root, 'cache') }
  const first = await probeAccel(init, { logger: silentLogger() })
  t.log(`accel here: ${first.accel} (${first.detail})`)
  t.true(first.accel === 'kvm' || first.accel === 'tcg')
  const second = await probeAccel(init, { logger: silentLogger() })
  t.is(second.accel, first.accel)
  if (first.detail !== '/dev/kvm is not usable') t.true(second.cached)
})
