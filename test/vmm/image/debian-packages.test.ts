import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { ImageError } from '../../../src/errors/errors.js'
import { silentLogger } from '../../../src/log/logger.js'
import { kernelDependency, parseAptShow } from '../../../src/vmm/image/apt.js'
import { obtainGuestParts } from '../../../src/vmm/image/debian-packages.js'
import { collectGuestModules, modinfoDepends } from '../../../src/vmm/image/kernel-modules.js'
import { tempDir } from '../../helpers/cli.js'
import { requireParts } from '../../helpers/requirements.js'

const SHOW = `Package: linux-image-cloud-amd64
Version: 6.1.192-2
Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)
Size: 1504

Package: busybox-static
Version: 1:1.35.0-4+deb12u1+b1
Depends: libc6 (>= 2.34),
 other
Size: 928188
`

test('apt-cache show stanzas and the versioned kernel dependency are parsed', t => {
  const pkgs = parseAptShow(SHOW)
  t.deepEqual(pkgs.map(p => [p.package, p.version, p.size]), [
    ['linux-image-cloud-amd64', '6.1.192-2', 1504],
    ['busybox-static', '1:1.35.0-4+deb12u1+b1', 928188]
  ])
  t.is(pkgs[1]?.depends, 'libc6 (>= 2.34), other')
  const meta = pkgs[0]
  if (meta === undefined) throw new Error('no stanza')
  t.deepEqual(kernelDependency(meta), { package: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' })
  t.throws(() => kernelDependency({ ...meta, depends: 'initramfs-tools' }), { instanceOf: ImageError })
})

function fakeKo (depends: string): Buffer {
  return Buffer.concat([Buffer.from('\x7fELF....'), Buffer.from(`\0license=GPL\0depends=${depends}\0vermagic=6.1\0`)])
}

const withXz = await requireParts(test, ['xz'])

withXz('modules come with their dependencies, dependencies first, from modinfo (plain and .ko.xz)', async t => {
  const root = await tempDir(t, 'roost-mods-')
  await mkdir(join(root, 'kernel', 'drivers', 'net'), { recursive: true })
  await writeFile(join(root, 'kernel', 'a.ko'), fakeKo(''))
  await writeFile(join(root, 'kernel', 'b.ko'), fakeKo('a'))
  await writeFile(join(root, 'kernel', 'drivers', 'net', 'net-top.ko'), fakeKo('b,a'))
  await writeFile(join(root, 'kernel', 'lonely.ko'), fakeKo('missing_one'))
  await writeFile(join(root, 'modules.builtin'), 'kernel/drivers/builtin_thing.ko\n')
  execFileSync('xz', ['-z', join(root, 'kernel', 'a.ko')])
  t.deepEqual(modinfoDepends(fakeKo('x-y,z')), ['x_y', 'z'])
  const mods = await collectGuestModules(root, ['net_top', 'builtin_thing'])
  t.deepEqual(mods.map(m => m.name), ['a', 'b', 'net_top'])
  t.deepEqual(mods[0]?.data, fakeKo(''), 'decompressed on the host')
  const err = await t.throwsAsync(collectGuestModules(root, ['lonely']), { instanceOf: ImageError })
  t.regex(err?.message ?? '', /'missing_one' not found .*needed by lonely/)
})

/** Fake apt tools first on PATH for the duration of one test. */
async function fakeApt (t: ExecutionContext, scripts: Record<string, string>): Promise<string> {
  const bin = await tempDir(t, 'roost-fakeapt-')
  for (const [name, body] of Object.entries(scripts)) {
    await writeFile(join(bin, name), `#!/bin/sh\n${body}\n`)
    await chmod(join(bin, name), 0o755)
  }
  const saved = process.env.PATH
  process.env.PATH = `${bin}:${saved ?? ''}`
  t.teardown(() => { process.env.PATH = saved })
  return bin
}

test.serial('a download apt does not know runs apt-get update once, then fails naming the package', async t => {
  const dir = await tempDir(t, 'roost-apt-')
  const log = join(dir, 'calls.log')
  await writeFile(join(dir, 'show.txt'), SHOW)
  await fakeApt(t, {
    'apt-cache': `echo "apt-cache $*" >>'${log}'; cat '${join(dir, 'show.txt')}'`,
    'apt-get': `echo "apt-get $*" >>'${log}'; case "$*" in *update*) exit 0 ;; esac; echo "E: Can't find a source to download version '6.1.192-2' of 'linux-image-6.1.0-56-cloud-amd64:amd64'" >&2; exit 100`
  })
  const err = await t.throwsAsync(obtainGuestParts({ cacheDir: join(dir, 'cache'), aptListsDir: join(dir, 'lists') }, { logger: silentLogger() }), { instanceOf: ImageError })
  t.regex(err?.message ?? '', /download-kernel: 'apt-get download linux-image-6\.1\.0-56-cloud-amd64=6\.1\.192-2' failed/)
  const calls = (await readFile(log, 'utf8')).trim().split('\n')
  t.is(calls.filter(c => c.includes(' update')).length, 1)
  t.is(calls.filter(c => c.includes(' download')).length, 2)
})

test.serial('without apt tools (and nothing cached) the error says what is missing', async t => {
  const dir = await tempDir(t, 'roost-apt-')
  const saved = process.env.PATH
  process.env.PATH = join(dir, 'empty-bin')
  t.teardown(() => { process.env.PATH = saved })
  const err = await t.throwsAsync(obtainGuestParts({ cacheDir: join(dir, 'cache'), aptListsDir: join(dir, 'lists') }, { logger: silentLogger() }), { instanceOf: ImageError })
  t.regex(err?.message ?? '', /resolve packages: 'apt-cache' not found/)
})
