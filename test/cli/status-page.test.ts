import test from 'ava'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { statusPageUrl } from '../../src/cli/commands/status-page.js'
import { roost, tempDir } from '../helpers/cli.js'

test('the status page address carries the token in its fragment; an API on every address is shown at loopback', t => {
  t.is(statusPageUrl('http://127.0.0.1:4280', 'abc'), 'http://127.0.0.1:4280/status#token=abc')
  t.is(statusPageUrl('http://0.0.0.0:4280', 'a/b+c='), 'http://127.0.0.1:4280/status#token=a%2Fb%2Bc%3D')
  t.is(statusPageUrl('http://[::]:4280', 't'), 'http://[::1]:4280/status#token=t')
  t.is(statusPageUrl('http://10.0.0.5:4280', 't'), 'http://10.0.0.5:4280/status#token=t')
})

test('roost status-page reads the API address from agent.json and the token from api.token, and says what is missing', async t => {
  const dir = await tempDir(t)
  const missing = await roost(['status-page', '--data-dir', dir])
  t.is(missing.code, 1)
  t.regex(missing.stderr, /agent\.json missing/)
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'agent.json'), JSON.stringify({ api: 'http://127.0.0.1:41234' }))
  await writeFile(join(dir, 'api.token'), 'secret-token\n')
  const printed = await roost(['status-page', '--data-dir', dir])
  t.is(printed.code, 0, printed.stderr)
  t.is(printed.stdout, 'http://127.0.0.1:41234/status#token=secret-token\n')
  const json = await roost(['status-page', '--json', '--data-dir', dir])
  t.deepEqual(JSON.parse(json.stdout), { url: 'http://127.0.0.1:41234/status#token=secret-token' })
})
