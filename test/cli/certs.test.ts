import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import { acmeIssueMessage, certsAddMessage, certsAddTarget } from '../../src/cli/commands/certs.js'
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

test('certs add: `<app> <hostname>` names the app; one argument is the hostname; two different apps are refused', t => {
  t.deepEqual(certsAddTarget('shop.example.com', undefined, {}), { hostname: 'shop.example.com' })
  t.deepEqual(certsAddTarget('shop.example.com', undefined, { app: 'shop' }), { hostname: 'shop.example.com', app: 'shop' })
  t.deepEqual(certsAddTarget('shop', 'shop.example.com', {}), { hostname: 'shop.example.com', app: 'shop' })
  t.deepEqual(certsAddTarget('shop', 'shop.example.com', { app: 'shop' }), { hostname: 'shop.example.com', app: 'shop' })
  t.throws(() => certsAddTarget('shop', 'shop.example.com', { app: 'web' }), { instanceOf: InvalidArgumentError, message: /two apps/ })
})

test('certs add --acme: the acme.issue message, with the directory when given; not with --cert/--key; a directory must be a URL', t => {
  t.deepEqual(acmeIssueMessage('shop.example.com', { acme: true, app: 'shop' }), { type: 'acme.issue', hostname: 'shop.example.com', app: 'shop' })
  t.deepEqual(acmeIssueMessage('shop.example.com', { acme: 'https://acme.test/dir' }), { type: 'acme.issue', hostname: 'shop.example.com', directory: 'https://acme.test/dir' })
  t.throws(() => acmeIssueMessage('x.test', { acme: true, cert: 'c.pem', key: 'k.pem' }), { instanceOf: InvalidArgumentError, message: /--acme/ })
  t.throws(() => acmeIssueMessage('x.test', { acme: 'acme.test/dir' }), { instanceOf: InvalidArgumentError, message: /URL/ })
})
