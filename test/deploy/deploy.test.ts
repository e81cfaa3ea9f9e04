import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'
import { readAgentConfigFile } from '../../src/cli/agent-config-file.js'
import { AGENT_OPTIONS, agentOptionsFromFlags, resolveAgentOptions } from '../../src/cli/agent-options.js'
import { BIN, roost, tempDir } from '../helpers/cli.js'
import { dryParse, shellWords } from '../helpers/cli-parse.js'
import { requireParts } from '../helpers/requirements.js'
import { AGENT_MALLOC_ENV } from '../../src/threads/malloc-env.js'
import { AGENT_NODE_OPTIONS } from '../../src/threads/agent-heap.js'

const verifyTest = await requireParts(test, ['systemd-analyze'])

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const AGENT_TOML = `${REPO}deploy/agent.toml`

/** `Key=Value` lines of a systemd unit, by section then key (a key may repeat). */
async function unitFile (name: string): Promise<Map<string, string[]>> {
  const entries = new Map<string, string[]>()
  let section = ''
  for (const raw of (await readFile(`${REPO}deploy/${name}`, 'utf8')).split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(\w+)\]$/.exec(line)
    if (header !== null) { section = header[1] ?? ''; continue }
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`${name}: not Key=Value: ${line}`)
    const key = `${section}.${line.slice(0, eq)}`
    entries.set(key, [...(entries.get(key) ?? []), line.slice(eq + 1)])
  }
  return entries
}

/** The roost command lines of a markdown file: from its code blocks (continuations joined) and its inline code. */
function roostCommands (markdown: string): string[] {
  const lines: string[] = []
  for (const block of markdown.matchAll(/^```(?:sh|bash|console)?\n([\s\S]*?)^```/gm)) {
    lines.push(...(block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n'))
  }
  // Inline code names the program alone at times (`roost`): only spans with a command count.
  for (const span of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/`(roost [^`\n]+)`/g)) lines.push(span[1] ?? '')
  return lines
    .map(l => l.replace(/^\s*(?:\$\s+)?/, '').replace(/\s+#\s.*$/, '').trim())
    .map(l => l.replace(/^(?:sudo\s+)?(?:[A-Z_]+=\S+\s+)*/, ''))
    .filter(l => /^roost(\s|$)/.test(l))
}

/** What `roost agent start`/`doctor` would make of their flags, checked by the options' own parsers. */
function checkAgentFlags (opts: Record<string, unknown>): void {
  agentOptionsFromFlags(opts as Record<string, string | undefined>)
}

test('the example agent.toml loads as roost agent start reads it', async t => {
  const file = readAgentConfigFile(AGENT_TOML, AGENT_OPTIONS)
  t.true(file.size >= 15, `${file.size} keys`)
  // The secret file lives on the server, not in the repo: given here so the rest is resolved.
  const o = resolveAgentOptions({ secret: 'test' }, {}, file)
  t.like(o, { cluster: 'prod', dataDir: '/var/lib/roost', wireguard: 'on', wireguardPort: 51820, onExit: 'keep', host: '10.0.0.1' })
  t.deepEqual(o.bootstrap, [{ host: '10.0.0.1', port: 49737 }])
  t.is(file.get('secretFile')?.text, '/etc/roost/secret')
})

test('the agent unit starts the real CLI\'s agent start with the example config, with the devices and capabilities it needs', async t => {
  const unit = await unitFile('roost-agent.service')
  const execStart = unit.get('Service.ExecStart') ?? []
  t.is(execStart.length, 1)
  const [program, ...argv] = shellWords(execStart[0] ?? '')
  t.is(program, '/usr/local/bin/roost', 'the path docs/deploy.md links roost to')
  const parsed = dryParse(argv)
  t.deepEqual(parsed.path, ['agent', 'start'])
  t.is(parsed.opts.config, '/etc/roost/agent.toml')
  checkAgentFlags(parsed.opts)
  const docs = await readFile(`${REPO}docs/deploy.md`, 'utf8')
  t.true(docs.includes('cp /opt/roost/deploy/agent.toml /etc/roost/agent.toml'), 'the config the unit names is the example one')
  t.is(unit.get('Service.Restart')?.[0], 'on-failure')
  const caps = (unit.get('Service.CapabilityBoundingSet') ?? []).join(' ').split(/\s+/)
  for (const cap of ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']) t.true(caps.includes(cap), cap)
  const devices = unit.get('Service.DeviceAllow') ?? []
  t.true(devices.includes('/dev/kvm rw'))
  t.true(devices.includes('/dev/net/tun rw'))
  t.is(unit.get('Service.KillMode')?.[0], 'process', 'machines outlive an agent restart')
  t.is(unit.get('Service.Environment')?.find(e => e.startsWith('ROOST_CACHE_DIR=')), 'ROOST_CACHE_DIR=/var/cache/roost')
})

test('the DHT unit runs the real CLI\'s roost dht on its instance address', async t => {
  const unit = await unitFile('roost-dht@.service')
  const [program, ...argv] = shellWords((unit.get('Service.ExecStart') ?? [])[0] ?? '')
  t.is(program, '/usr/local/bin/roost')
  const parsed = dryParse(argv.map(w => w.replace('%i', '10.0.0.1')))
  t.deepEqual(parsed.path, ['dht'])
  t.like(parsed.opts, { host: '10.0.0.1', port: '49737' })
  const agent = readAgentConfigFile(AGENT_TOML, AGENT_OPTIONS)
  t.is(agent.get('bootstrap')?.text, '10.0.0.1:49737', 'the example agent config bootstraps from it')
})

test('every roost command in docs/deploy.md parses with the real CLI', async t => {
  const commands = roostCommands(await readFile(`${REPO}docs/deploy.md`, 'utf8'))
  t.true(commands.length >= 10, commands.join('\n'))
  const refused: string[] = []
  for (const line of commands) {
    try {
      const parsed = dryParse(shellWords(line).slice(1))
      const name = parsed.path.join(' ')
      if (name === 'agent start' || name === 'doctor') checkAgentFlags(parsed.opts)
    } catch (err) {
      refused.push(`${line}: ${(err as Error).message}`)
    }
  }
  t.deepEqual(refused, [])
  // The harmless ones run for real.
  const harmless = commands.filter(l => /(?:^roost --version|--help)$/.test(l))
  t.true(harmless.length >= 2)
  for (const line of harmless) {
    const r = await roost(shellWords(line).slice(1))
    t.is(r.code, 0, `${line}: ${r.stderr}`)
  }
  // A line the CLI would refuse is caught: the check can fail.
  t.throws(() => dryParse(shellWords('roost members --data-dri /x').slice(1)), { message: /does not take --data-dri/ })
  t.throws(() => dryParse(shellWords('roost apps status').slice(1)), { message: /needs 1 argument/ })
  t.throws(() => dryParse(shellWords('roost deploy . --kernel huge').slice(1)))
})

verifyTest('systemd-analyze verify accepts both units (with roost at this checkout\'s bin/roost.js)', async t => {
  const dir = await tempDir(t, 'roost-units-')
  const units: Array<[string, string]> = [['roost-agent.service', 'roost-agent.service'], ['roost-dht@.service', 'roost-dht@10.0.0.1.service']]
  for (const [from, to] of units) {
    const text = await readFile(`${REPO}deploy/${from}`, 'utf8')
    await writeFile(join(dir, to), text.replaceAll('/usr/local/bin/roost', BIN))
    const r = await new Promise<{ code: number, out: string }>(resolve => {
      execFile('systemd-analyze', ['verify', join(dir, to)], { timeout: 60_000 }, (err, stdout, stderr) => { resolve({ code: err === null ? 0 : 1, out: stdout + stderr }) })
    })
    t.is(r.code, 0, `${from}: ${r.out}`)
    t.is(r.out.trim(), '', `${from} verifies without a warning`)
  }
})

test('the agent unit sets the malloc environment and the Node.js options agents are started with everywhere else', async t => {
  const unit = await readFile(new URL('../../deploy/roost-agent.service', import.meta.url), 'utf8')
  for (const [k, v] of Object.entries(AGENT_MALLOC_ENV)) t.regex(unit, new RegExp(`^Environment=${k}=${v}$`, 'm'))
  t.true(unit.split('\n').includes(`Environment="NODE_OPTIONS=${AGENT_NODE_OPTIONS.join(' ')}"`), 'and the agent\'s Node.js options (quoted: they hold a space)')
})
