import { execFile } from 'node:child_process'
import { lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import test, { type ExecutionContext } from 'ava'
import { createCpio, createCpioGz, S_IFDIR, S_IFLNK, S_IFREG, shellEnvFile, type CpioEntry } from '../../../src/vmm/image/cpio.js'
import { tempDir } from '../../helpers/cli.js'
import { requireParts } from '../../helpers/requirements.js'

const ENTRIES: CpioEntry[] = [
  { path: 'app', mode: S_IFDIR | 0o755 },
  { path: 'app/run', mode: S_IFREG | 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { path: 'app/empty', mode: S_IFREG | 0o600, data: Buffer.alloc(0) },
  { path: 'app/odd', mode: S_IFREG | 0o640, data: Buffer.from('12345') },
  { path: 'app/bin', mode: S_IFDIR | 0o750 },
  { path: 'app/bin/blob', mode: S_IFREG | 0o644, data: Buffer.from(Array.from({ length: 4099 }, (_, i) => i % 251)) },
  { path: 'app/link', mode: S_IFLNK | 0o777, data: Buffer.from('bin/blob') },
  { path: 'app/abs-link', mode: S_IFLNK | 0o777, data: Buffer.from('/etc/hostname') }
]

async function extract (archive: Buffer, dir: string): Promise<void> {
  const file = join(dir, 'archive.cpio')
  await writeFile(file, archive)
  await new Promise<void>((resolve, reject) => {
    execFile('sh', ['-c', `cd '${dir}/out' && cpio -idm --quiet < '${file}'`], (err, _stdout, stderr) => {
      if (err !== null) reject(new Error(`cpio -idm failed: ${stderr}`))
      else resolve()
    })
  })
}

async function checkTree (t: ExecutionContext, root: string): Promise<void> {
  for (const e of ENTRIES) {
    const p = join(root, e.path)
    const s = await lstat(p)
    const type = e.mode & 0o170000
    if (type === S_IFLNK) {
      t.true(s.isSymbolicLink(), e.path)
      t.is(await readlink(p), e.data?.toString() ?? '', e.path)
      continue
    }
    t.is(s.mode & 0o7777, e.mode & 0o7777, `mode of ${e.path}`)
    if (type === S_IFDIR) t.true(s.isDirectory(), e.path)
    else t.deepEqual(await readFile(p), e.data ?? Buffer.alloc(0), `content of ${e.path}`)
    if (type === S_IFREG) t.is(s.mtimeMs, 0, `mtime of ${e.path}`)
  }
}

const withCpio = await requireParts(test, ['cpio'])

withCpio('createCpio round-trips through `cpio -idm` (files, modes, empty and unaligned files, symlinks)', async t => {
  const dir = await tempDir(t, 'roost-cpio-')
  await mkdir(join(dir, 'out'))
  await extract(createCpio(ENTRIES), dir)
  await checkTree(t, join(dir, 'out'))
})

withCpio('createCpioGz is a gzip of the same archive', async t => {
  const dir = await tempDir(t, 'roost-cpio-')
  await mkdir(join(dir, 'out'))
  const gz = createCpioGz(ENTRIES)
  t.deepEqual(gunzipSync(gz), createCpio(ENTRIES))
  await extract(gunzipSync(gz), dir)
  await checkTree(t, join(dir, 'out'))
})

test('createCpio is deterministic and 4-byte aligned, ending with the trailer', t => {
  const a = createCpio(ENTRIES)
  t.deepEqual(a, createCpio(ENTRIES))
  t.is(a.length % 4, 0)
  t.true(a.subarray(0, 6).equals(Buffer.from('070701')))
  t.true(a.includes(Buffer.from('TRAILER!!!\0')))
})

test('shellEnvFile quotes values for sh and drops names that are not identifiers', t => {
  const text = shellEnvFile({ A: "it's", B_2: 'x y $HOME', 'bad-name': 'z' })
  t.is(text, "export A='it'\\''s'\nexport B_2='x y $HOME'\n")
})
