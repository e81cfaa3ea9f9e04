import test from 'ava'
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/log/logger.js'
import { buildImage } from '../../src/vmm/image/build.js'
import { findStaticBusybox, isStaticElf, probeAccel, probeBoot } from '../../src/vmm/accel-probe.js'
import { qemuAvailable } from '../../src/vmm/qemu-driver.js'
import { requireParts } from '../helpers/requirements.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

const qemu = await qemuAvailable()
const vmTest = await requireParts(test, ['qemu', 'debian-tools'])
const busyboxTest = await requireParts(test, ['busybox-static'])

test('isStaticElf says no to a dynamic executable and to a script', async t => {
  t.false(isStaticElf(await readFile(process.execPath)), 'node is dynamically linked')
  t.false(isStaticElf(Buffer.from('#!/bin/sh\n')))
})

busyboxTest('isStaticElf says yes to the static busybox findStaticBusybox finds', async t => {
  const busybox = await findStaticBusybox()
  t.not(busybox, null)
  t.true(isStaticElf(busybox ?? Buffer.alloc(0)))
})

vmTest.serial('the probe boots under tcg; the kvm decision is made once and cached', async t => {
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
