import test from 'ava'
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { GuestSpec } from '../../src/vmm/driver.js'
import { fileSize, parseExitMarker, readExitMarker, readTail } from '../../src/vmm/qemu-console.js'
import { guestEnv, USER_NET, writeMachineInitrd } from '../../src/vmm/qemu-initrd.js'

test('parseExitMarker takes the last marker on a line of its own', t => {
  t.is(parseExitMarker(''), null)
  t.is(parseExitMarker('booting\nroost-exit: 7\n'), 7)
  t.is(parseExitMarker('roost-exit: 1\r\nmore\r\nroost-exit: 143\r\n[    6.07] reboot: Power down\r\n'), 143)
  t.is(parseExitMarker('echo "roost-exit: 9" in a log line\n'), null)
  t.is(parseExitMarker('\nroost-exit: 3'), 3)
})

test('readExitMarker ignores markers of earlier boots; readTail bounds its read', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-console-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const log = join(dir, 'console.log')
  t.is(await fileSize(log), 0)
  t.is(await readTail(log, 100), '')
  await writeFile(log, 'first boot\nroost-exit: 4\n')
  const offset = await fileSize(log)
  t.is(await readExitMarker(log, offset), null)
  await appendFile(log, 'second boot\n')
  t.is(await readExitMarker(log, offset), null)
  await appendFile(log, '\nroost-exit: 0\n')
  t.is(await readExitMarker(log, offset), 0)
  t.is(await readTail(log, 5), 't: 0\n')
})

test('the per-machine initrd is the image initrd followed by a gzip cpio with /etc/roost/env', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-initrd-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const base = Buffer.from('BASE-INITRD-BYTES')
  await writeFile(join(dir, 'initrd.img.base'), base)
  const spec: GuestSpec = {
    machineId: 'm-1',
    dir,
    image: { schema: 1, digest: '0'.repeat(64), kernel: 'vmlinuz', initrd: 'initrd.img.base', app: 'app', kernelVersion: 'x', modules: [], createdAt: '', sizeBytes: 0 },
    imageDir: dir,
    cpus: 1,
    memoryMb: 128,
    env: { GREETING: "it's", PORT: '1' },
    guestPort: 8080,
    network: { mode: 'forward', hostPort: 1234 }
  }
  const env = guestEnv(spec, USER_NET)
  t.is(env.PORT, '8080', 'roost settings win over the user env')
  t.is(env.ROOST_IP, '10.0.2.15/24')
  t.is(env.ROOST_GW, '10.0.2.2')
  const path = await writeMachineInitrd(spec, env)
  t.is(path, join(dir, 'initrd.img'))
  const bytes = await readFile(path)
  t.deepEqual(bytes.subarray(0, base.length), base)
  const cpio = gunzipSync(bytes.subarray(base.length)).toString('latin1')
  for (const name of ['etc\0', 'etc/roost\0', 'etc/roost/env\0']) t.true(cpio.includes(name), name)
  t.true(cpio.includes("export GREETING='it'\\''s'"))
  t.true(cpio.includes("export ROOST_MACHINE_ID='m-1'"))
  t.true(cpio.includes("export PORT='8080'"))
})
