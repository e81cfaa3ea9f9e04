import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { BIN, roost, tempDir } from '../helpers/cli.js'
import { httpGet, killProcessesUnder, killRecordedVms, recordedVmPids } from '../helpers/machines.js'
import { checkParts, isCI, requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'
import { acquireVmLock } from '../helpers/vm-lock.js'

// `--driver auto` runs the demo as qemu microVMs where qemu is installed and as plain processes
// otherwise; the test says which it expects and checks that one ran. Under CI it must be qemu.
const DRIVER = (await checkParts(['qemu'])).ok ? 'qemu' : 'process'
const devTest = await requireParts(test, isCI() ? ['debian-tools', 'qemu'] : ['debian-tools'])

async function curl (args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) => { if (err !== null) reject(new Error(`curl ${args.join(' ')}: ${stderr}`)); else resolve(stdout) })
  })
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

devTest(`roost dev starts a bootstrap and 3 agents, deploys the demo app on 2 ${DRIVER} machines, and stops everything on Ctrl-C`, async t => {
  t.timeout(600_000)
  t.teardown(await acquireVmLock())
  const dir = await tempDir(t, 'roost-dev-')
  // Its own process group, so a failed test can kill roost dev and every child it started.
  // From its own folder: the pointer roost dev leaves there (.roost-dev.json) stays out of the repo.
  const child = spawn(process.execPath, [BIN, 'dev', '--dir', dir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  t.teardown(() => {
    if (child.pid !== undefined) { try { process.kill(-child.pid, 'SIGKILL') } catch {} }
    for (const name of ['h1', 'h2', 'h3']) killRecordedVms(join(dir, name))
    // A VM an agent had started but not yet recorded when it was killed: found by its paths.
    killProcessesUnder(dir)
  })

  await retry(() => out.includes('Ctrl-C stops everything'), { timeoutMs: 300_000, what: 'cluster ready, demo deployed' })
    .catch((err: Error) => { t.log(out.slice(-4000)); throw err })
  t.regex(out, /app 'demo' is up/)
  const rows = [...out.matchAll(/^[0-9a-f]{14}\s+(h\d)\s+(\S+)\s+started\s+127\.0\.0\.1:(\d+)$/gm)]
  t.is(rows.length, 2, out)
  t.deepEqual(rows.map(m => m[1]).sort(), ['h1', 'h2'], 'one machine on h1, one on h2')
  t.deepEqual(rows.map(m => m[2]), [DRIVER, DRIVER], 'the DRIVER column of roost dev')
  for (const m of rows) t.regex((await httpGet({ host: '127.0.0.1', port: Number(m[3]) }))?.text ?? '', /hello from roost machine [0-9a-f]{14}/)
  // The README's curls: every host's router serves the app on its own loopback address, over
  // HTTP and over HTTPS with a certificate from the dev CA.
  for (const [i, name] of ['h1', 'h2', 'h3'].entries()) {
    const address = `127.0.0.${i + 1}`
    t.regex(out, new RegExp(`^${name}\\s+http://${address.replace(/\./g, '\\.')}:8080/`, 'm'))
    const hello = /hello from roost machine [0-9a-f]{14}/
    t.regex(await retry(async () => { const r = await httpGet({ host: address, port: 8080 }); return hello.test(r?.text ?? '') ? r?.text : undefined }, { timeoutMs: 15_000, what: `${name}'s router serving the demo` }), hello)
    const https = await retry(async () => await curl(['--cacert', join(dir, 'ca', 'ca.pem'), '--resolve', `demo.roost.internal:8443:${address}`, 'https://demo.roost.internal:8443/']), { timeoutMs: 15_000, what: `${name}'s router over TLS` })
    t.regex(https, hello, `${name}'s router over TLS`)
  }
  const listed = new Map<string, MachineView>()
  for (const name of ['h1', 'h2', 'h3']) {
    const r = await roost(['machines', 'list', '--app', 'demo', '--json', '--data-dir', join(dir, name)])
    t.is(r.code, 0, r.stderr)
    for (const m of JSON.parse(r.stdout) as MachineView[]) listed.set(m.id, m)
  }
  t.deepEqual([...listed.values()].map(m => m.driver), [DRIVER, DRIVER], '`roost machines list --json`')
  const vmPids = ['h1', 'h2', 'h3'].flatMap(name => recordedVmPids(join(dir, name)).map(r => r.pid))
  t.is(vmPids.length, 2)
  // What runs is what the API says: a qemu process per machine, or none.
  const argv0 = await Promise.all(vmPids.map(async pid => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')[0] ?? ''))
  t.deepEqual(argv0.map(a => /qemu-system-x86_64$/.test(a)), [DRIVER === 'qemu', DRIVER === 'qemu'], argv0.join(', '))
  for (const name of ['h1', 'h2', 'h3']) t.regex(out, new RegExp(`^${name}( \\*)?\\s+[0-9a-f]{12}\\s+alive`, 'm'))
  const pids: number[] = []
  for (const name of ['h1', 'h2', 'h3']) {
    const info = JSON.parse(await readFile(join(dir, name, 'agent.json'), 'utf8')) as { pid: number }
    pids.push(info.pid)
  }
  t.true(pids.every(alive))

  const exit = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  child.kill('SIGINT')
  t.is(await exit, 0)
  t.regex(out, /all processes stopped/)
  t.true(pids.every(pid => !alive(pid)), 'no agent process is left behind')
  t.true(vmPids.every(pid => !alive(pid)), 'no VM is left behind')
})
