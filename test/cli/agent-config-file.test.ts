import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import { Command } from 'commander'
import { fileKeyOf, readAgentConfigFile } from '../../src/cli/agent-config-file.js'
import { addAgentOptionFlags, AGENT_OPTIONS, agentOptionsFromFlags, resolveAgentOption, resolveAgentOptions } from '../../src/cli/agent-options.js'
import { ConfigError } from '../../src/errors/errors.js'
import { roost, tempDir } from '../helpers/cli.js'

/** `roost agent start <argv>` as far as its options go, with --config / ROOST_CONFIG read as the command does. */
function fromArgv (argv: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof resolveAgentOptions> {
  const command = addAgentOptionFlags(new Command('start').exitOverride())
  command.parse(argv, { from: 'user' })
  const flags = command.opts<Record<string, string | undefined>>()
  const config = resolveAgentOption('config', flags.config, env)
  const file = config === undefined ? undefined : readAgentConfigFile(config, AGENT_OPTIONS)
  return resolveAgentOptions(agentOptionsFromFlags(flags), env, file)
}

async function configFile (t: ExecutionContext, text: string, name = 'agent.toml'): Promise<string> {
  const file = join(await tempDir(t, 'roost-agent-config-'), name)
  await writeFile(file, text)
  return file
}

test('every option with a flag can be given in the file under the flag\'s long name', async t => {
  const keys = Object.values(AGENT_OPTIONS).flatMap(o => {
    const key = fileKeyOf(o)
    return key === undefined || key === 'config' ? [] : [[key, 'fileValue' in o && o.fileValue === 'integer' ? '1' : 'fileValue' in o && o.fileValue === 'boolean' ? 'true' : '"x"'] as const]
  })
  t.true(keys.length >= 25, `${keys.length} keys`)
  const file = await configFile(t, keys.map(([k, v]) => `${k} = ${v}`).join('\n') + '\n')
  const values = readAgentConfigFile(file, AGENT_OPTIONS)
  t.is(values.size, keys.length)
  t.is(values.get('dataDir')?.where, `${file}:${keys.findIndex(([k]) => k === 'data-dir') + 1}: data-dir`)
})

test('the file gives values of every TOML type an option takes; flags and environment variables win over it', async t => {
  const file = await configFile(t, [
    '# /etc/roost/agent.toml',
    'name = "edge-1"',
    'region = "file-region"',
    'data-dir = "/var/lib/roost"',
    'bootstrap = ["10.0.0.1:49737", "10.0.0.2:49737"]',
    'port = 49737',
    'gossip-profile = "wan"',
    'wireguard = "off"',
    'mesh-port = 5001',
    'secret = "from-file"',
    'api = "0.0.0.0:4280"',
    'images-dir = "images"'
  ].join('\n') + '\n')
  const o = fromArgv(['--config', file])
  t.is(o.imagesDir, join(dirname(file), 'images'), 'a relative path is taken from the file\'s folder')
  t.like(o, { name: 'edge-1', region: 'file-region', dataDir: '/var/lib/roost', port: 49737, gossipProfile: 'wan', wireguard: 'off', meshPort: 5001, secret: 'from-file' })
  t.deepEqual(o.bootstrap, [{ host: '10.0.0.1', port: 49737 }, { host: '10.0.0.2', port: 49737 }])
  t.deepEqual(o.api, { host: '0.0.0.0', port: 4280 })
  t.like(o, { cluster: 'roost', onExit: 'keep' }, 'what the file does not give comes from the defaults')

  const env = { ROOST_REGION: 'env-region', ROOST_DATA_DIR: '/env/dir', ROOST_SECRET: 'from-env' }
  t.like(fromArgv(['--config', file], env), { region: 'env-region', dataDir: '/env/dir', secret: 'from-env', name: 'edge-1' }, 'env beats the file')
  t.like(fromArgv(['--config', file, '--region', 'flag-region', '--mesh-port', '6000', '--secret', 'from-flag'], env), { region: 'flag-region', meshPort: 6000, secret: 'from-flag', dataDir: '/env/dir' }, 'flags beat both')
  t.like(fromArgv([], { ROOST_CONFIG: file }), { name: 'edge-1', region: 'file-region' }, 'ROOST_CONFIG names the file')
  t.like(fromArgv(['--config', file], { ROOST_CONFIG: '/nonexistent.toml' }), { name: 'edge-1' }, '--config beats ROOST_CONFIG')
})

test('secret-file in the file: after --secret, --secret-file and ROOST_SECRET', async t => {
  const dir = await tempDir(t, 'roost-agent-secret-')
  await writeFile(join(dir, 'secret'), 'from-secret-file\n')
  const file = await configFile(t, `secret-file = "${join(dir, 'secret')}"\n`)
  t.is(fromArgv(['--config', file]).secret, 'from-secret-file')
  t.is(fromArgv(['--config', file], { ROOST_SECRET: 'env' }).secret, 'env')
  t.is(fromArgv(['--config', file, '--secret', 'flag']).secret, 'flag')
})

test('unknown keys, wrong types, tables, bad values and bad TOML are ConfigErrors naming the file and line', async t => {
  const cases: Array<[string, RegExp]> = [
    ['name = "a"\n\nsurprise = 1\n', /agent\.toml:3: unknown key 'surprise' \(keys are the long names/],
    ['data_dir = "/x"\n', /agent\.toml:1: unknown key 'data_dir' \(keys are written as the flags are: did you mean 'data-dir'\?\)/],
    ['config = "/other.toml"\n', /agent\.toml:1: unknown key 'config'/],
    ['name = "a"\nport = "49737"\n', /agent\.toml:2: port must be an integer, not a string/],
    ['region = 3\n', /agent\.toml:1: region must be a string, not an integer/],
    ['bootstrap = [1, 2]\n', /agent\.toml:1: bootstrap must be a string or an array of strings, not an array/],
    ['\n[agent]\nname = "a"\n', /agent\.toml:2: unknown key 'agent'/],
    ['name = "a"\ngossip-profile = "moon"\n', /agent\.toml:2: gossip-profile must be one of lan, wan, not 'moon'/],
    ['mesh-port = 0\n', /agent\.toml:1: mesh-port must be an integer ≥ 1/],
    ['data-dir = ""\n', /agent\.toml:1: data-dir must be a non-empty string, not an empty string/],
    ['name = "a"\nregion = \n', /agent\.toml:2:\d+: TOML syntax/]
  ]
  for (const [text, message] of cases) {
    const file = await configFile(t, text)
    const err = t.throws(() => fromArgv(['--config', file, '--secret', 's']), { instanceOf: ConfigError }, text)
    t.regex(err?.message ?? '', message, text)
  }
  t.regex(t.throws(() => fromArgv(['--config', '/nonexistent/agent.toml', '--secret', 's']), { instanceOf: ConfigError })?.message ?? '', /cannot read the agent config \/nonexistent\/agent\.toml/)
})

test('roost agent start reads ROOST_CONFIG and refuses an unknown key with the file and line, starting nothing', async t => {
  const file = await configFile(t, 'secret = "s"\ndata-dir = "/tmp/never-used"\nmesh_port = 5000\n')
  const r = await roost(['agent', 'start'], { env: { ROOST_CONFIG: file } })
  t.not(r.code, 0)
  t.regex(r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:3: unknown key 'mesh_port'.*did you mean 'mesh-port'`))
})

test('a switch is a TOML boolean in the file: metrics-public = true; a string there names the line', async t => {
  const on = await configFile(t, 'secret = "s"\nmetrics-public = true\n')
  t.true(fromArgv(['--config', on]).metricsPublic)
  const off = await configFile(t, 'secret = "s"\nmetrics-public = false\n')
  t.false(fromArgv(['--config', off]).metricsPublic)
  const bad = await configFile(t, 'secret = "s"\nmetrics-public = "yes"\n')
  t.throws(() => fromArgv(['--config', bad]), { instanceOf: ConfigError, message: new RegExp(`${bad}:2: metrics-public must be true or false, not a string`) })
})
