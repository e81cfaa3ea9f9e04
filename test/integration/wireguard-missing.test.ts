import { isCI } from '../../src/cli/ci-env.js'
import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { MeshView } from '../../src/api/control-api.js'
import { exited, freeUdpPort } from '../../src/cli/local-cluster.js'
import { createDhtBootstrap } from '../../src/dht/bootstrap.js'
import { silentLogger } from '../../src/log/logger.js'
import { findExecutable, wgPath } from '../../src/mesh/wg-command.js'
import { BIN, roost, tempDir } from '../helpers/cli.js'
import { retry } from '../helpers/retry.js'

// Agents started where wireguard-go cannot be found: it is hidden from them by a bind mount of
// /dev/null over every copy on the search path, in a mount namespace of their own (nothing
// changes for the rest of the machine); where wireguard-go is not installed, nothing is hidden.
const wireguardGo = [...new Set(wgPath().split(':').map(d => join(d, 'wireguard-go')).filter(p => existsSync(p)).map(p => realpathSync(p)))]

const missing = ((): string | undefined => {
  if (process.getuid?.() !== 0) return 'needs root (a mount namespace, and WireGuard would be refused for not being root first)'
  if (wireguardGo.length > 0 && findExecutable('unshare') === null) return 'needs unshare (util-linux) to hide wireguard-go'
  return undefined
})()
const CI = isCI()

/** `roost agent start …` with wireguard-go hidden; stdout and stderr go to `log`. */
async function agentWithoutWireguardGo (log: string, args: string[]): Promise<ChildProcess> {
  const out = await open(log, 'a')
  const hide = wireguardGo.map(p => `mount --bind /dev/null '${p}'`).join(' && ')
  const [cmd, argv] = wireguardGo.length === 0
    ? [process.execPath, [BIN, 'agent', 'start', ...args]]
    : ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${hide} && exec "$@"`, 'sh', process.execPath, BIN, 'agent', 'start', ...args]]
  const child = spawn(cmd, argv, { stdio: ['ignore', out.fd, out.fd] })
  await out.close()
  return child
}

async function agentArgs (t: ExecutionContext, wireguard: 'on' | 'auto'): Promise<{ dir: string, args: string[] }> {
  const dir = await tempDir(t, 'roost-no-wg-')
  const boot = createDhtBootstrap({ host: '127.0.0.1', port: await freeUdpPort() }, { logger: silentLogger() })
  t.teardown(async () => { await boot.stop() })
  await boot.start()
  const secretFile = join(dir, 'cluster.secret')
  await writeFile(secretFile, 'no-wireguard-go-here\n', { mode: 0o600 })
  const { host, port } = boot.address()
  return {
    dir,
    args: ['--name', 'nowg', '--secret-file', secretFile, '--bootstrap', `${host}:${port}`, '--data-dir', join(dir, 'data'),
      '--api', '127.0.0.1:0', '--driver', 'process', '--wireguard', wireguard, '--log-level', 'info']
  }
}

if (missing !== undefined && !CI) {
  test.skip(`agents without wireguard-go: --wireguard on refuses to start, auto runs on the streams (skipped: ${missing})`, () => {})
} else {
  test.serial('--wireguard on without wireguard-go: the agent refuses to start with ERR_MESH naming wireguard-go and how to install it', async t => {
    if (missing !== undefined) { t.fail(`required under CI: ${missing}`); return }
    const { dir, args } = await agentArgs(t, 'on')
    const log = join(dir, 'agent.log')
    const agent = await agentWithoutWireguardGo(log, args)
    t.teardown(async () => { if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL'); await exited(agent) })
    // A bound that only catches a hang (the refusal comes before anything starts), not a timing assertion.
    const code = await Promise.race([
      new Promise<number | null>(resolve => { agent.once('exit', (c) => { resolve(c) }) }),
      new Promise<'hang'>(resolve => { setTimeout(() => { resolve('hang') }, 30_000).unref() })
    ])
    const output = await readFile(log, 'utf8')
    t.is(code, 1, output)
    t.regex(output, /error ERR_MESH: --wireguard on, but WireGuard cannot run here: wireguard-go not found on PATH \(apt-get install wireguard-go wireguard-tools\)/)
    t.false(existsSync(join(dir, 'data', 'agent.json')), 'nothing was started')
    t.false(existsSync(join(dir, 'data', 'control.sock')))
  })

  test.serial('--wireguard auto without wireguard-go: the agent runs, `roost mesh` names what is missing, messages keep to the streams', async t => {
    if (missing !== undefined) { t.fail(`required under CI: ${missing}`); return }
    const { dir, args } = await agentArgs(t, 'auto')
    const agent = await agentWithoutWireguardGo(join(dir, 'agent.log'), args)
    t.teardown(async () => { if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM'); await exited(agent) })
    const dataDir = join(dir, 'data')
    const view = await retry(async () => {
      if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}`)
      const r = await roost(['mesh', '--json', '--data-dir', dataDir])
      return r.code === 0 ? JSON.parse(r.stdout) as MeshView : undefined
    }, { timeoutMs: 30_000, what: 'the agent to answer `roost mesh`' })
    t.is(view.mode, 'stream')
    t.is(view.ifname, null)
    t.is(view.address, null)
    t.regex(view.reason ?? '', /wireguard-go not found on PATH \(apt-get install wireguard-go wireguard-tools\)/)
    const members = JSON.parse((await roost(['members', '--json', '--data-dir', dataDir])).stdout) as Array<{ self: boolean, state: string }>
    t.like(members.find(m => m.self), { state: 'alive' })
  })
}
