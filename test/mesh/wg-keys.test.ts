import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { MeshError } from '../../src/errors/errors.js'
import { findExecutable } from '../../src/mesh/wg-command.js'
import { generateWgKeyPair, isWgKey, loadOrCreateWgKey, wgPublicKeyOf } from '../../src/mesh/wg-keys.js'
import { requireParts } from '../helpers/requirements.js'

async function tempDir (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-wgkey-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

test('generated pairs are distinct WireGuard keys whose public half wgPublicKeyOf recomputes', t => {
  const a = generateWgKeyPair()
  const b = generateWgKeyPair()
  for (const k of [a.privateKey, a.publicKey, b.privateKey, b.publicKey]) t.true(isWgKey(k), k)
  t.not(a.privateKey, b.privateKey)
  t.not(a.publicKey, b.publicKey)
  t.is(wgPublicKeyOf(a.privateKey), a.publicKey)
  t.is(wgPublicKeyOf(b.privateKey), b.publicKey)
  const raw = Buffer.from(a.privateKey, 'base64')
  t.is(raw[0]! & 7, 0, 'clamped like wg genkey')
  t.is(raw[31]! & 0xc0, 0x40, 'clamped like wg genkey')
})

test('wgPublicKeyOf agrees with the RFC 7748 test vector', t => {
  // Alice's key pair from RFC 7748 §6.1.
  const priv = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64')
  const pub = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64')
  t.is(wgPublicKeyOf(priv), pub)
})

const withWg = await requireParts(test, ['wg'])
withWg('wgPublicKeyOf agrees with `wg pubkey` on keys from `wg genkey` and ours', t => {
  const wgBin = findExecutable('wg') ?? 'wg'
  const theirs = execFileSync(wgBin, ['genkey']).toString().trim()
  t.is(wgPublicKeyOf(theirs), execFileSync(wgBin, ['pubkey'], { input: theirs + '\n' }).toString().trim())
  const ours = generateWgKeyPair()
  t.is(execFileSync(wgBin, ['pubkey'], { input: ours.privateKey + '\n' }).toString().trim(), ours.publicKey)
})

test('wgPublicKeyOf rejects what is not a key', t => {
  for (const bad of ['', 'abc', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64')]) {
    t.throws(() => wgPublicKeyOf(bad), { instanceOf: MeshError })
  }
})

test('loadOrCreateWgKey creates wireguard.key with mode 0600 and reuses it', async t => {
  const dir = await tempDir(t)
  const first = await loadOrCreateWgKey(join(dir, 'data'))
  t.is(first.file, join(dir, 'data', 'wireguard.key'))
  t.is((await stat(first.file)).mode & 0o777, 0o600)
  t.is((await readFile(first.file, 'utf8')).trim(), first.privateKey)
  t.is(wgPublicKeyOf(first.privateKey), first.publicKey)
  const again = await loadOrCreateWgKey(join(dir, 'data'))
  t.deepEqual(again, first)
})

test('concurrent first calls agree on one key', async t => {
  const dir = await tempDir(t)
  const all = await Promise.all([1, 2, 3, 4].map(async () => await loadOrCreateWgKey(dir)))
  t.is(new Set(all.map(k => k.privateKey)).size, 1)
})

test('loadOrCreateWgKey tightens a loose mode and keeps the key', async t => {
  const dir = await tempDir(t)
  const first = await loadOrCreateWgKey(dir)
  await chmod(first.file, 0o644)
  const again = await loadOrCreateWgKey(dir)
  t.is(again.privateKey, first.privateKey)
  t.is((await stat(first.file)).mode & 0o777, 0o600)
})

test('a garbage key file is a MeshError and is left alone', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'wireguard.key')
  await writeFile(file, 'not a key\n', { mode: 0o600 })
  await t.throwsAsync(loadOrCreateWgKey(dir), { instanceOf: MeshError })
  t.is(await readFile(file, 'utf8'), 'not a key\n')
})
