import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { Command } from 'commander'
import { addAgentOptionFlags, AGENT_OPTIONS, agentOptionsFromFlags, resolveAgentOptions } from '../../src/cli/agent-options.js'
import { ROOST_VERSION } from '../../src/cli/config.js'
import { ConfigError } from '../../src/errors/errors.js'
import { DEFAULT_MESH_PORT } from '../../src/transport/mesh-path.js'

/** `roost agent start <argv>` as far as its options go: commander's parse, then the table's. */
function fromArgv (argv: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof resolveAgentOptions> {
  const command = addAgentOptionFlags(new Command('start').exitOverride())
  command.parse(argv, { from: 'user' })
  return resolveAgentOptions(agentOptionsFromFlags(command.opts()), env)
}

async function secretFile (t: ExecutionContext, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-options-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const file = join(dir, 'secret')
  await writeFile(file, content)
  return file
}

test('every flag is read back under its own key (commander names it as the table does)', t => {
  const command = addAgentOptionFlags(new Command('start'))
  const flagged = Object.entries(AGENT_OPTIONS).filter(([, o]) => 'flag' in o).map(([key]) => key)
  t.deepEqual(command.options.map(o => o.attributeName()), flagged)
  t.true(flagged.length >= 19, `${flagged.length} flags`)
})

test('defaults fill what no flag and no environment variable gives', t => {
  const o = fromArgv(['--secret', 's'])
  t.like(o, {
    name: hostname(), cluster: 'roost', secret: 's', host: '127.0.0.1', port: 0, region: 'local', gossipProfile: 'lan',
    driver: 'auto', onExit: 'keep', wireguard: 'auto', meshPort: DEFAULT_MESH_PORT, faults: false, version: ROOST_VERSION
  })
  t.deepEqual(o.bootstrap, [{ host: '127.0.0.1', port: 49737 }])
  t.deepEqual(o.api, { host: '127.0.0.1', port: 4280 })
  t.is(o.imagesDir, undefined)
  t.is(o.wireguardPort, undefined)
  t.is(o.apiToken, undefined)
  t.false('logLevel' in o, 'the log level is the CLI\'s, not the host\'s')
})

test('flags are parsed to values; a flag beats its environment variable, which beats the default', t => {
  const env = { ROOST_REGION: 'env-region', ROOST_WIREGUARD: 'on', ROOST_API_LISTEN: '9999', ROOST_DATA_DIR: '/env/dir', ROOST_ENABLE_FAULTS: '1' }
  const o = fromArgv([
    '--secret', 's', '--name', 'h1', '--bootstrap', '10.0.0.1:1,10.0.0.2:2', '--port', '7', '--region', 'flag-region',
    '--gossip-profile', 'wan', '--data-dir', 'rel/dir', '--driver', 'process', '--images-dir', 'imgs', '--api', '[::1]:0',
    '--api-token', 'tok', '--on-exit', 'stop', '--wireguard-port', '51820', '--mesh-port', '5000'
  ], env)
  t.like(o, {
    name: 'h1', port: 7, region: 'flag-region', gossipProfile: 'wan', dataDir: resolve('rel/dir'), driver: 'process', imagesDir: resolve('imgs'),
    apiToken: 'tok', onExit: 'stop', wireguard: 'on', wireguardPort: 51820, meshPort: 5000, faults: true
  })
  t.deepEqual(o.bootstrap, [{ host: '10.0.0.1', port: 1 }, { host: '10.0.0.2', port: 2 }])
  t.deepEqual(o.api, { host: '::1', port: 0 })
  const fromEnv = fromArgv(['--secret', 's'], env)
  t.like(fromEnv, { region: 'env-region', dataDir: '/env/dir', wireguard: 'on', faults: true })
  t.deepEqual(fromEnv.api, { host: '127.0.0.1', port: 9999 })
})

test('the code path takes values as given and fills the rest the same way', t => {
  const o = resolveAgentOptions({ secret: 's', wireguard: 'off', api: { host: '127.0.0.1', port: 0 } }, { ROOST_REGION: 'r2' })
  t.like(o, { wireguard: 'off', region: 'r2', cluster: 'roost', onExit: 'keep' })
  t.deepEqual(o.api, { host: '127.0.0.1', port: 0 })
  t.deepEqual(resolveAgentOptions(o, {}), o, 'resolving twice changes nothing')
})

test('the secret: --secret, then --secret-file, then ROOST_SECRET; none is a ConfigError', async t => {
  const file = await secretFile(t, '  from-file\n')
  t.is(fromArgv(['--secret', 'flag', '--secret-file', file], { ROOST_SECRET: 'env' }).secret, 'flag')
  t.is(fromArgv(['--secret-file', file], { ROOST_SECRET: 'env' }).secret, 'from-file')
  t.is(fromArgv([], { ROOST_SECRET: 'env' }).secret, 'env')
  t.regex(t.throws(() => fromArgv([]), { instanceOf: ConfigError }).message, /--secret, --secret-file or ROOST_SECRET/)
  const empty = await secretFile(t, '\n')
  t.regex(t.throws(() => fromArgv(['--secret-file', empty]), { instanceOf: ConfigError }).message, /is empty/)
})

test('a bad value is a ConfigError naming the flag or variable it came from', t => {
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--port', 'x'], {}, /--port/],
    [['--mesh-port', '0'], {}, /--mesh-port must be an integer ≥ 1/],
    [['--secret', ''], {}, /--secret must not be empty/],
    [['--gossip-profile', 'moon'], {}, /--gossip-profile must be one of lan, wan/],
    [['--driver', 'kvm'], {}, /--driver must be one of auto, qemu, process/],
    [['--api', 'nope'], {}, /--api must be host:port/],
    [['--bootstrap', 'nohost'], {}, /--bootstrap: bootstrap 'nohost' must be host:port/],
    [[], { ROOST_WIREGUARD: 'maybe' }, /ROOST_WIREGUARD must be one of auto, on, off/]
  ]
  for (const [argv, env, message] of cases) {
    const err = t.throws(() => fromArgv(['--secret', 's', ...argv], env), { instanceOf: ConfigError }, argv.join(' '))
    t.regex(err?.message ?? '', message)
  }
})

test('--help lists each flag with its default and environment variable', t => {
  const help = addAgentOptionFlags(new Command('start')).helpInformation({ error: false }).replace(/\s+/g, ' ')
  for (const option of Object.values(AGENT_OPTIONS)) {
    if (!('flag' in option)) continue
    t.true(help.includes(option.flag), option.flag)
    if ('env' in option) t.true(help.includes(`env ${option.env}`), option.env)
  }
  t.true(help.includes('(default: 127.0.0.1:4280; env ROOST_API_LISTEN)'))
  t.true(help.includes('(default: keep)'))
})

test('--metrics-public is a switch, also set by ROOST_METRICS_PUBLIC; off by default', t => {
  t.false(fromArgv(['--secret', 's']).metricsPublic)
  t.true(fromArgv(['--secret', 's', '--metrics-public']).metricsPublic)
  t.true(fromArgv(['--secret', 's'], { ROOST_METRICS_PUBLIC: '1' }).metricsPublic)
  t.false(fromArgv(['--secret', 's'], { ROOST_METRICS_PUBLIC: '0' }).metricsPublic)
})
