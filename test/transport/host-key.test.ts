import test, { type ExecutionContext } from 'ava'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '../../src/errors/errors.js'
import { HOST_SEED_FILE, loadOrCreateHostSeed } from '../../src/transport/host-key.js'

async function tempDir (t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-host-key-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

test('first load creates a 32-byte seed file with mode 0600', async t => {
  const dir = await tempDir(t)
  const seed = await loadOrCreateHostSeed(dir)
  t.is(seed.byteLength, 32)
  const file = join(dir, HOST_SEED_FILE)
  const st = await stat(file)
  t.is(st.mode & 0o777, 0o600)
  t.is((await readFile(file, 'utf8')).trim(), seed.toString('hex'))
})

test('the data dir is created when missing', async t => {
  const dir = await tempDir(t)
  const nested = join(dir, 'a', 'b')
  const seed = await loadOrCreateHostSeed(nested)
  t.is(seed.byteLength, 32)
  t.true((await stat(nested)).isDirectory())
  t.is((await stat(join(nested, HOST_SEED_FILE))).mode & 0o777, 0o600)
})

test('a second load returns the same seed', async t => {
  const dir = await tempDir(t)
  const first = await loadOrCreateHostSeed(dir)
  const second = await loadOrCreateHostSeed(dir)
  t.deepEqual(second, first)
})

test('different data dirs get different seeds', async t => {
  const a = await loadOrCreateHostSeed(await tempDir(t))
  const b = await loadOrCreateHostSeed(await tempDir(t))
  t.notDeepEqual(a, b)
})

test('an existing valid seed file is read as is', async t => {
  const dir = await tempDir(t)
  const hex = 'ab'.repeat(32)
  await writeFile(join(dir, HOST_SEED_FILE), `  ${hex}\n\n`, { mode: 0o600 })
  t.deepEqual(await loadOrCreateHostSeed(dir), Buffer.from(hex, 'hex'))
})

const badContents: Array<[string, string]> = [
  ['empty', ''],
  ['too short', 'ab'.repeat(31)],
  ['too long', 'ab'.repeat(33)],
  ['not hex', 'zz'.repeat(32)],
  ['upper-case hex', 'AB'.repeat(32)],
  ['binary', '\u0000\u0001\u0002']
]

for (const [name, content] of badContents) {
  test(`bad seed file content (${name}) throws ConfigError and is left alone`, async t => {
    const dir = await tempDir(t)
    const file = join(dir, HOST_SEED_FILE)
    await writeFile(file, content, { mode: 0o600 })
    const err = await t.throwsAsync(loadOrCreateHostSeed(dir), { instanceOf: ConfigError })
    t.is(err?.code, 'ERR_CONFIG')
    t.true(err?.message.includes(file))
    t.is(await readFile(file, 'utf8'), content)
  })
}
