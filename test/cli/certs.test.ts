import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { certsAddMessage } from '../../src/cli/commands/certs.js'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { tempDir } from '../helpers/cli.js'

test('certs add: without files the message asks the router\'s CA; with both it carries the PEMs read from them', async t => {
  t.deepEqual(await certsAddMessage('demo.example.com', {}), { type: 'router.certs-add', hostname: 'demo.example.com' })
  t.deepEqual(await certsAddMessage('demo.example.com', { app: 'demo' }), { type: 'router.certs-add', hostname: 'demo.example.com', app: 'demo' })
  const dir = await tempDir(t)
  await writeFile(join(dir, 'cert.pem'), 'CERT')
  await writeFile(join(dir, 'key.pem'), 'KEY')
  t.deepEqual(await certsAddMessage('demo.example.com', { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }),
    { type: 'router.certs-add', hostname: 'demo.example.com', certPem: 'CERT', keyPem: 'KEY' })
})

test('certs add: --cert without --key (or the reverse) and unreadable files are InvalidArgumentErrors', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'cert.pem'), 'CERT')
  await t.throwsAsync(certsAddMessage('x.test', { cert: join(dir, 'cert.pem') }), { instanceOf: InvalidArgumentError, message: /go together/ })
  await t.throwsAsync(certsAddMessage('x.test', { key: join(dir, 'cert.pem') }), { instanceOf: InvalidArgumentError })
  await t.throwsAsync(certsAddMessage('x.test', { cert: join(dir, 'cert.pem'), key: join(dir, 'missing.pem') }), { instanceOf: InvalidArgumentError, message: /--key .*missing\.pem/ })
})
