import anyTest, { type ExecutionContext, type TestFn } from 'ava'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import type { LabHost } from '../../src/lab/lab.js'
import { roost } from '../helpers/cli.js'
import { retry } from '../helpers/retry.js'
import { requireParts } from '../helpers/requirements.js'
import {
  answersIn, converse, curlIn, deploy, deployRaw, echoOf, LAB_DOMAIN, machineOn, rawRequest, received, routable, routesOf, stateDir, stateOf,
  startRouterLab, type RouterLab
} from '../helpers/router-lab.js'

// The router's behaviour under faults, in a lab with WireGuard (issue 12's "Done when"): an
// unhealthy machine receives nothing, hard limits hold with PR03, a failed connect moves to
// another machine, bad requests are refused without harming others, and bad services rows are
// rejected (and refused by `roost deploy`) while routing goes on.

/** Deploy results by app; filled by the first test (tests get a shallow copy of the context). */
interface Ctx { rl: RouterLab, apps: Record<string, DeployResult> }
const test = anyTest as TestFn<Ctx>
const lab2 = await requireParts(test, ['lab', 'wireguard', 'wg', 'curl'])

const CHECKED = `checked.${LAB_DOMAIN}`
const LIMITED = `limited.${LAB_DOMAIN}`
const FLAKY = `flaky.${LAB_DOMAIN}`

lab2.before(async t => {
  t.context.apps = {}
  t.context.rl = await startRouterLab(['ams', 'ams'], 'roost-router-faults-')
})

lab2.afterAlways(async t => {
  await t.context.rl?.stop()
})

const hosts = (t: ExecutionContext<Ctx>): [LabHost, LabHost] => t.context.rl.hosts as [LabHost, LabHost]
const app = (t: ExecutionContext<Ctx>, name: string): DeployResult => {
  const r = t.context.apps[name]
  if (r === undefined) throw new Error(`${name} was not deployed`)
  return r
}

lab2.serial('the apps deploy: two checked machines, one limited machine, two flaky ones', async t => {
  const { rl, apps } = t.context
  const [h1, h2] = hosts(t)
  apps.checked = await deploy(h1, 'checked.roost.toml', ['--host', 'h1,h2', '--count', '2'])
  apps.limited = await deploy(h2, 'limited.roost.toml', ['--host', 'h1', '--count', '1'])
  apps.flaky = await deploy(h1, 'flaky.roost.toml', ['--host', 'h1,h2', '--count', '2'])
  for (const h of [h1, h2]) {
    for (const [name, r] of Object.entries(apps)) await routable(h, name, r.machines.map(m => m.id))
  }
  t.pass()
})

lab2.serial('an unhealthy machine receives nothing: its host\'s router sends to the healthy one elsewhere, and back once it passes again', async t => {
  const { rl } = t.context
  const [h1, h2] = hosts(t)
  const [on1, on2] = [machineOn(app(t, 'checked'), 'h1'), machineOn(app(t, 'checked'), 'h2')]
  t.is(echoOf(await curlIn(rl.lab, h1, `http://${h1.address}:8081/`, ['-H', `Host: ${CHECKED}`])).machine, on1, 'local while healthy')

  await writeFile(join(stateDir(on1), 'sick'), '')
  for (const h of [h1, h2]) await routable(h, 'checked', [on2])
  const v = await routesOf(h1, 'checked')
  t.like(v.apps[0]?.machines.find(m => m.id === on1), { state: 'started', health: 'critical', routable: false })
  const before = (await received(on1)).length
  for (let i = 0; i < 10; i++) {
    for (const h of [h1, h2]) t.is(echoOf(await curlIn(rl.lab, h, `http://${h.address}:8081/n${i}`, ['-H', `Host: ${CHECKED}`])).machine, on2)
  }
  t.is((await received(on1)).length, before, 'the unhealthy machine received none of the 20 requests')

  await rm(join(stateDir(on1), 'sick'))
  await routable(h1, 'checked', [on1, on2])
  t.is(echoOf(await curlIn(rl.lab, h1, `http://${h1.address}:8081/`, ['-H', `Host: ${CHECKED}`])).machine, on1, 'local again once it passes')
})

lab2.serial('the hard limit holds under concurrent slow requests, also from two routers at once: the rest wait, then get 503 with roost-error PR03', async t => {
  const { rl } = t.context
  const [h1, h2] = hosts(t)
  const on1 = machineOn(app(t, 'limited'), 'h1')
  const counted = (await routesOf(h1, 'limited')).apps[0]?.counters.PR03 ?? 0
  // Six at once from h2 to h1's router (the machine is h1's own): hard limit 2, queue 2 s, each request 4 s.
  const slow = Array.from({ length: 6 }, (_, i) => ({
    name: `slow${i}`, host: h1.address, port: 8082, maxMs: 30_000,
    steps: [{ send: rawRequest(LIMITED, '/slow?ms=4000', ['Connection: close']) }]
  }))
  const results = await converse(rl.lab, h2, slow)
  const answers = results.map(r => answersIn(r.received)[0])
  t.is(answers.filter(a => a?.status === 200).length, 2, JSON.stringify(answers))
  t.is(answers.filter(a => a?.status === 503 && a.code === 'PR03').length, 4, JSON.stringify(answers))
  for (const r of results.filter(x => answersIn(x.received)[0]?.status === 503)) t.regex(r.received, /\r\n\r\nPR03: /, 'the body names the code too')
  const bodies = results.filter(r => answersIn(r.received)[0]?.status === 200).map(r => JSON.parse(r.received.slice(r.received.indexOf('\r\n\r\n') + 4)) as { maxInflight: number })
  t.true(bodies.every(b => b.maxInflight <= 2), `the machine never had more than 2 in flight: ${JSON.stringify(bodies.map(b => b.maxInflight))}`)
  t.is((await received(on1)).filter(r => r.path === '/slow').length, 2, 'the refused ones never reached it')
  t.is((await routesOf(h1, 'limited')).apps[0]?.counters.PR03, counted + 4)
  t.is(echoOf(await curlIn(rl.lab, h2, `http://${h1.address}:8082/after`, ['-H', `Host: ${LIMITED}`])).machine, on1, 'capacity is back afterwards')

  // The same through h2's router, whose requests reach h1's machine over the backhaul (once h1's
  // router reports, through gossip, that it has nothing in flight there any more).
  await retry(async () => (await routesOf(h2, 'limited')).apps[0]?.machines[0]?.remoteInflight === 0, { timeoutMs: 10_000, what: 'h1\'s load report reaching h2' })
  const remote = await converse(rl.lab, h1, slow.map(c => ({ ...c, host: h2.address })))
  const remoteAnswers = remote.map(r => answersIn(r.received)[0])
  t.is(remoteAnswers.filter(a => a?.status === 200).length, 2, JSON.stringify(remoteAnswers))
  t.is(remoteAnswers.filter(a => a?.status === 503 && a.code === 'PR03').length, 4, JSON.stringify(remoteAnswers))
  t.is((await received(on1)).filter(r => r.path === '/slow').length, 4)
  t.is((await routesOf(h2, 'limited')).apps[0]?.counters.PR03, 4)

  // Both routers at once, three requests each: each alone sees the machine under its limit, but
  // h1's router (the machine's host) admits every request, its own and those h2 backhauls.
  await retry(async () => (await routesOf(h2, 'limited')).apps[0]?.machines[0]?.remoteInflight === 0, { timeoutMs: 10_000, what: 'h1\'s load report reaching h2' })
  const [viaH1, viaH2] = await Promise.all([
    converse(rl.lab, h2, slow.slice(0, 3)),
    converse(rl.lab, h1, slow.slice(3).map(c => ({ ...c, host: h2.address })))
  ])
  const both = [...viaH1, ...viaH2]
  const bothAnswers = both.map(r => answersIn(r.received)[0])
  t.is(bothAnswers.filter(a => a?.status === 200).length, 2, JSON.stringify(bothAnswers))
  t.is(bothAnswers.filter(a => a?.status === 503 && a.code === 'PR03').length, 4, JSON.stringify(bothAnswers))
  const bothBodies = both.filter(r => answersIn(r.received)[0]?.status === 200).map(r => JSON.parse(r.received.slice(r.received.indexOf('\r\n\r\n') + 4)) as { maxInflight: number })
  t.true(bothBodies.every(b => b.maxInflight <= 2), `two routers together never put more than 2 in flight: ${JSON.stringify(bothBodies.map(b => b.maxInflight))}`)
  t.is((await received(on1)).filter(r => r.path === '/slow').length, 6)
})

lab2.serial('malformed requests, oversized heads and slow clients are refused with their codes; other connections carry on', async t => {
  const { rl } = t.context
  const [h1, h2] = hosts(t)
  const target = { host: h1.address, port: 8083, maxMs: 30_000 }
  const results = await converse(rl.lab, h2, [
    // A keep-alive client: one request, then another once the router has closed the slow client.
    { name: 'good', ...target, steps: [{ send: rawRequest(FLAKY, '/first') }, { waitFor: '"path":"/first"', afterClosed: 'slow' }, { send: rawRequest(FLAKY, '/second', ['Connection: close']) }] },
    { name: 'malformed', ...target, steps: [{ send: `GET / HTTP/1.1\r\nHost: ${FLAKY}\r\nno colon here\r\n\r\n` }] },
    { name: 'smuggling', ...target, steps: [{ send: `POST / HTTP/1.1\r\nHost: ${FLAKY}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` }] },
    { name: 'oversized', ...target, steps: [{ send: `GET / HTTP/1.1\r\nHost: ${FLAKY}\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n` }] },
    { name: 'slow', ...target, steps: [{ send: `GET /slowloris HTTP/1.1\r\nHost: ${FLAKY}\r\n` }] }
  ])
  const by = new Map(results.map(r => [r.name, r]))
  const first = (name: string): { status: number, code: string | null } | undefined => answersIn(by.get(name)?.received ?? '')[0]
  t.deepEqual(first('malformed'), { status: 400, code: 'PR10' })
  t.deepEqual(first('smuggling'), { status: 400, code: 'PR10' })
  t.deepEqual(first('oversized'), { status: 431, code: 'PR11' })
  t.deepEqual(first('slow'), { status: 408, code: 'PR12' })
  for (const name of ['malformed', 'smuggling', 'oversized', 'slow']) t.true(by.get(name)?.closedByPeer, `${name}: the router closed the connection`)
  const good = by.get('good')
  t.deepEqual(answersIn(good?.received ?? '').map(a => a.status), [200, 200], good?.received)
  t.true(good?.closedByPeer, 'closed after the second request (Connection: close)')
  t.is((await received(machineOn(app(t, 'flaky'), 'h1'))).filter(r => r.path === '/slowloris').length, 0)
  t.is(echoOf(await curlIn(rl.lab, h2, `http://${h1.address}:8083/still`, ['-H', `Host: ${FLAKY}`])).path, '/still')
})

lab2.serial('a failed connect is retried on another machine: a machine that stopped listening but is still started costs no request', async t => {
  const { rl } = t.context
  const [h1, h2] = hosts(t)
  const [on1, on2] = [machineOn(app(t, 'flaky'), 'h1'), machineOn(app(t, 'flaky'), 'h2')]
  const deaf = await curlIn(rl.lab, h1, `http://${h1.address}:8083/deaf`, ['-H', `Host: ${FLAKY}`, '-H', `roost-force-instance-id: ${on1}`])
  t.is(deaf.status, 200)
  const v = await routesOf(h1, 'flaky')
  t.like(v.apps[0]?.machines.find(m => m.id === on1), { state: 'started', routable: true, local: true }, 'still a candidate: nothing tells the router it went deaf')
  for (let i = 0; i < 10; i++) {
    const a = await curlIn(rl.lab, h1, `http://${h1.address}:8083/retry${i}`, ['-H', `Host: ${FLAKY}`])
    t.is(echoOf(a).machine, on2, 'the local connect failed; served by h2\'s machine instead')
  }
  const log = await readFile(h1.logFile, 'utf8')
  t.true(log.includes('connect failed; next candidate'), 'h1\'s router logged the retries')
  t.is((await routesOf(h1, 'flaky')).apps[0]?.counters.PR04, undefined, 'no request ran out of candidates')

  // Forced onto the deaf machine from h2: h1's router refuses the backhaul (connect failed), h2 answers PR04.
  const forced = await curlIn(rl.lab, h2, `http://${h2.address}:8083/forced`, ['-H', `Host: ${FLAKY}`, '-H', `roost-force-instance-id: ${on1}`])
  t.is(forced.status, 502, forced.body)
  t.is(forced.headers['roost-error'], 'PR04')
  t.true((await routesOf(h1)).backhaul.refused >= 1)
})

lab2.serial('bad services rows are rejected and logged while routing goes on; roost deploy refuses a conflicting app and accepts a legitimate share', async t => {
  const { rl } = t.context
  const [h1, h2] = hosts(t)
  const now = Date.now()
  const service = { protocol: 'tcp', internalPort: 8080, concurrency: { type: 'connections', softLimit: 20, hardLimit: 25 }, autoStopMachines: 'off', autoStartMachines: true, minMachinesRunning: 0 }
  // Rows the replica's schema accepts: the first wants limited's HTTP port as plain TCP, the second claims limited itself under another key.
  const squatter = { app: 'a-squatter', deployVersion: 1, primaryRegion: null, hostnames: [], updatedAt: now, services: [{ ...service, ports: [{ port: 8082, handlers: [], forceHttps: false, proxyProtoVersion: 1 }] }] }
  const broken = { app: 'limited', deployVersion: 9, primaryRegion: null, hostnames: [], updatedAt: now, services: [{ ...service, ports: [{ port: 8090, handlers: [], forceHttps: false, proxyProtoVersion: 1 }] }] }
  for (const [key, data] of [['a-squatter', squatter], ['broken', broken]] as const) {
    const w = await roost(['send', 'local/agent/membership', JSON.stringify({ type: 'membership.write', table: 'services', key, data }), '--data-dir', h2.dataDir])
    t.is(w.code, 0, w.stderr)
  }
  for (const h of [h1, h2]) {
    const v = await retry(async () => { const x = await routesOf(h); return x.rejected.length >= 2 && x }, { timeoutMs: 20_000, what: `${h.name} rejecting both rows` })
    t.deepEqual(v.rejected.map(r => r.key).sort(), ['a-squatter', 'broken'])
    t.regex(v.rejected.find(r => r.key === 'a-squatter')?.reason ?? '', /port 8082 is taken by app 'limited'/)
    t.is(v.rejected.find(r => r.key === 'broken')?.reason, 'row key \'broken\' is not its app \'limited\'')
    t.true(v.listeners.some(l => l.port === 8082 && l.http && l.state === 'listening'), 'limited keeps its port')
    t.false(v.listeners.some(l => l.port === 8090))
    const logged = (await readFile(h.logFile, 'utf8')).split('\n').filter(l => l.includes('row rejected by the router')).map(l => JSON.parse(l) as { key: string, reason: string })
    t.deepEqual(logged.map(l => l.key).sort(), ['a-squatter', 'broken'], `${h.name} logged each rejected row once, with its reason`)
    t.regex(logged.find(l => l.key === 'a-squatter')?.reason ?? '', /port 8082 is taken by app 'limited'/)
  }
  t.is(echoOf(await curlIn(rl.lab, h2, `http://${h1.address}:8082/ok`, ['-H', `Host: ${LIMITED}`])).machine, machineOn(app(t, 'limited'), 'h1'), 'the good app still answers')

  const refused = await deployRaw(h1, 'squat.roost.toml', ['--host', 'h1'])
  t.not(refused.code, 0)
  t.regex(refused.stderr, /app squat cannot be deployed: port 8083 is taken by app 'flaky'/)
  t.false((await stateOf(h1, 'services')).some(r => r.key === 'squat' && !r.deleted), 'no services row was written')
  t.false((await stateOf(h1, 'machines')).some(r => r.data?.app === 'squat'), 'and no machine made')

  // The app holding the port may redeploy (from h1: the router there hands it to h2, the row's
  // owner), and keeps the port; sharing it by Host is legitimate too.
  const again = await deploy(h1, 'limited.roost.toml')
  t.deepEqual(again.machines.map(m => m.action), ['unchanged'])
  t.is(again.deployVersion, 2)
  const held = await retry(async () => { const v = await routesOf(h1); return v.apps.some(a => a.app === 'limited' && a.ports.length === 1) && v.rejected.some(r => r.key === 'a-squatter') && v }, { timeoutMs: 20_000, what: 'h1 routing the redeployed limited' })
  t.true(held.listeners.some(l => l.port === 8082 && l.http && l.apps.includes('limited')), 'limited keeps port 8082 after its redeploy')
  const shares = await deploy(h1, 'shares.roost.toml', ['--host', 'h2'])
  await routable(h1, 'shares', shares.machines.map(m => m.id))
  // No checks: the machine is a candidate once started, perhaps before its app listens.
  const first = await retry(async () => { const a = await curlIn(rl.lab, h2, `http://${h1.address}:8082/`, ['-H', `Host: shares.${LAB_DOMAIN}`]); return a.status === 200 && a }, { timeoutMs: 20_000, what: 'shares answering' })
  t.is(echoOf(first).machine, machineOn(shares, 'h2'))
  t.is(echoOf(await curlIn(rl.lab, h2, `http://${h1.address}:8082/`, ['-H', `Host: ${LIMITED}`])).machine, machineOn(app(t, 'limited'), 'h1'))
})
