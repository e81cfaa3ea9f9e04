import test from 'ava'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { APP, startApi, STARTED, STOPPED, SUSPENDED, TOKEN } from '../api/machines/fake-backend.js'
import { BIN, tempDir } from '../helpers/cli.js'


interface Result { code: number, stdout: string, stderr: string }

async function machines (args: string[], env: Record<string, string> = {}): Promise<Result> {
  return await new Promise(resolve => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
    for (const k of ['ROOST_API_URL', 'ROOST_API_TOKEN', 'ROOST_DATA_DIR']) if (env[k] === undefined) delete childEnv[k]
    execFile(process.execPath, [BIN, 'machines', ...args], { timeout: 60_000, env: childEnv }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

test('machines commands find the API through the data dir and print tables, status and JSON', async t => {
  const { url, backend } = await startApi(t)
  const dataDir = await tempDir(t)
  await writeFile(join(dataDir, 'agent.json'), JSON.stringify({ hostId: 'x', api: url }))
  await writeFile(join(dataDir, 'api.token'), TOKEN + '\n')
  const d = ['--app', APP, '--data-dir', dataDir]

  const [list, listJson, status] = await Promise.all([
    machines(['list', ...d]),
    machines(['list', ...d, '--json']),
    machines(['status', STARTED, ...d])
  ])
  const [run, stop, resume, illegal, logs, wait] = await Promise.all([
    machines(['run', 'hello', ...d, '--name', 'web-2', '--env', 'A=1', '--env', 'B=x=y', '--port', '9000', '--cpus', '2', '--memory', '256',
      '--restart', 'on-failure', '--max-retries', '3', '--check-http', '/healthz', '--driver', 'process', '--wait']),
    machines(['stop', STARTED, ...d]),
    machines(['resume', SUSPENDED, ...d, '--json']),
    machines(['suspend', STOPPED, ...d]),
    machines(['logs', STOPPED, ...d, '--max-bytes', '8']),
    machines(['wait', STOPPED, ...d, '--state', 'suspended', '--timeout', '1'])
  ])

  t.is(list.code, 0, list.stderr)
  const [header, ...rows] = list.stdout.trimEnd().split('\n')
  t.regex(header ?? '', /^ID\s+NAME\s+STATE\s+REGION\s+HOST\s+DRIVER\s+ENDPOINT\s+CHECKS\s+UPDATED$/)
  t.true(rows.some(r => r.startsWith(STARTED) && r.includes('01234567 ') && r.includes('1/1 passing')), list.stdout)
  t.true(Array.isArray(JSON.parse(listJson.stdout)))

  t.is(status.code, 0, status.stderr)
  t.regex(status.stdout, new RegExp(`^id:\\s+${STARTED}$`, 'm'))
  t.regex(status.stdout, /^state:\s+started$/m)
  t.regex(status.stdout, /^endpoint:\s+127\.0\.0\.1:41000$/m)

  t.is(run.code, 0, run.stderr)
  t.regex(run.stdout, /^state:\s+started$/m)
  const created = [...backend.machines.values()].find(m => m.name === 'web-2')
  t.deepEqual(created?.config, {
    image: 'hello',
    env: { A: '1', B: 'x=y' },
    services: [{ protocol: 'tcp', internal_port: 9000 }],
    guest: { cpus: 2, memory_mb: 256 },
    restart: { policy: 'on-failure', max_retries: 3 },
    checks: { http: { type: 'http', path: '/healthz' } },
    driver: 'process'
  })

  t.is(stop.code, 0, stop.stderr)
  t.is(stop.stdout, `${STARTED}: stopped\n`)
  t.is(resume.code, 0, resume.stderr)
  t.is((JSON.parse(resume.stdout) as { state: string }).state, 'started')

  t.is(illegal.code, 1)
  t.is(illegal.stdout, '')
  t.regex(illegal.stderr, /ERR_ILLEGAL_TRANSITION/)
  t.regex(illegal.stderr, new RegExp(`machine ${STOPPED} cannot suspend while stopped`))

  t.is(logs.code, 0, logs.stderr)
  t.is(logs.stdout, 'line 49\n')
  t.is(wait.code, 1)
  t.regex(wait.stderr, /ERR_WAIT_TIMEOUT/)
})

test('destroy needs --force on a running machine; overrides and env select another API', async t => {
  const { url } = await startApi(t)
  const emptyDir = await tempDir(t)
  const [noAgent, noForce, forced, viaEnv, badToken, unreachable] = await Promise.all([
    machines(['list', '--app', APP, '--data-dir', emptyDir]),
    machines(['destroy', STARTED, '--app', APP, '--api', url, '--token', TOKEN]),
    machines(['destroy', SUSPENDED, '--app', APP, '--api', url, '--token', TOKEN, '--force']),
    machines(['status', STOPPED, '--app', APP, '--data-dir', emptyDir, '--json'], { ROOST_API_URL: url, ROOST_API_TOKEN: TOKEN }),
    machines(['list', '--app', APP, '--api', url, '--token', 'wrong']),
    machines(['list', '--app', APP, '--api', 'http://127.0.0.1:1', '--token', TOKEN])
  ])
  t.is(noAgent.code, 1)
  t.true(noAgent.stderr.includes(`no agent running with data dir ${emptyDir} (agent.json missing); start one with roost agent start`), noAgent.stderr)
  t.is(noForce.code, 1)
  t.regex(noForce.stderr, /ERR_ILLEGAL_TRANSITION/)
  t.is(forced.code, 0, forced.stderr)
  t.is(forced.stdout, `${SUSPENDED}: destroyed\n`)
  t.is(viaEnv.code, 0, viaEnv.stderr)
  t.is((JSON.parse(viaEnv.stdout) as { id: string }).id, STOPPED)
  t.is(badToken.code, 1)
  t.regex(badToken.stderr, /ERR_UNAUTHORIZED/)
  t.is(unreachable.code, 1)
  t.regex(unreachable.stderr, /ERR_AGENT_UNAVAILABLE/)
})
