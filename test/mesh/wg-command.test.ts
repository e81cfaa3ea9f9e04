import test from 'ava'
import { MeshError } from '../../src/errors/errors.js'
import { findExecutable, wg, wgPath, wireguardAvailable } from '../../src/mesh/wg-command.js'
import { requireParts } from '../helpers/requirements.js'

const withWg = await requireParts(test, ['wg'])

test('wgPath appends the system directories; findExecutable finds sh and not nonsense', t => {
  t.true(wgPath().split(':').includes('/usr/sbin'))
  t.truthy(findExecutable('sh'))
  t.is(findExecutable('roost-no-such-binary'), null)
})

test('wireguardAvailable says ok, or why not', t => {
  const a = wireguardAvailable()
  if (a.ok) t.is(process.getuid?.(), 0)
  else t.regex(a.reason, /root|not found|tun/)
})

withWg('a failing wg is a MeshError with its args and stderr', async t => {
  const err = await t.throwsAsync(wg(['show', `roost-noif-${process.pid}`, 'dump']), { instanceOf: MeshError })
  t.deepEqual(err?.details?.args, ['show', `roost-noif-${process.pid}`, 'dump'])
  t.true(String(err?.details?.stderr).length > 0)
})

withWg('wg reads stdin (pubkey)', async t => {
  const priv = (await wg(['genkey'])).trim()
  const pub = (await wg(['pubkey'], priv + '\n')).trim()
  t.regex(pub, /^[A-Za-z0-9+/]{43}=$/)
})
