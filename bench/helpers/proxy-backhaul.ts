import { execFile } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { MeshView } from '../../src/api/control-api.js'
import { controlCall, pollUntil } from '../../src/lab/lab-agents.js'
import { createLab, type Lab, type LabHost } from '../../src/lab/lab.js'
import { createLogger } from '../../src/log/logger.js'
import { HELLO_BODY, writeNginxApp } from './nginx-app.js'
import { AGENT_LOG_LEVEL, BIN, roostDeploy, routesOf } from './proxy-deploy.js'
import { alternate, loadAvg1, reportedErrors, roundRatios, ROUNDS, SAMPLE_SEC, type PathFigures } from './proxy-rounds.js'
import { progress, report, round } from './report.js'
import { errorCount } from './wrk.js'

// backhaul: a lab of two hosts (network namespaces, WireGuard on, process driver); the app's one
// machine (nginx) on h2. wrk runs in h1's namespace, against h1's router (→ backhaul over the
// tunnel → h2's router → the machine), and against the machine itself at h2's mesh address
// (the same tunnel, no router). Both load the same wireguard-go pair, so the ratio is what the
// two routers cost. Nothing is pinned here: wrk, two agents, two wireguard-go and nginx share
// both cores on either path.

const APP = 'bench'
const HOSTNAME = `${APP}.roost.internal`
const PORT = 8080
const CONNECTIONS = Number(process.env.BENCH_PROXY_CONNECTIONS ?? 64)

async function inNetns (h: LabHost, argv: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', h.netns, ...argv], { timeout: 30_000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err !== null) reject(new Error(`${argv.join(' ')} in ${h.name}: ${err.message}\n${errOut}`))
      else resolve(out)
    })
  })
}

/** One GET from inside h1 with curl: status line, headers and body. */
async function curlFrom (h: LabHost, url: string, target: { host: string, port: number }): Promise<{ status: number, head: string, body: string }> {
  const ip = target.host.includes(':') ? `[${target.host}]` : target.host
  const out = await inNetns(h, ['curl', '-sS', '-i', '--max-time', '10', '--connect-to', `::${ip}:${target.port}`, url])
  const end = out.indexOf('\r\n\r\n')
  return { status: Number(/^HTTP\/\S+ (\d+)/.exec(out)?.[1] ?? 0), head: out.slice(0, end), body: out.slice(end + 4) }
}

/** Bytes through a namespace's interface (rx + tx), from `ip -s -j link`. */
async function ifBytes (h: LabHost, ifname: string): Promise<number> {
  const [link] = JSON.parse(await inNetns(h, ['ip', '-s', '-j', 'link', 'show', 'dev', ifname])) as Array<{ stats64: { rx: { bytes: number }, tx: { bytes: number } } }>
  if (link === undefined) throw new Error(`no interface ${ifname} in ${h.name}`)
  return link.stats64.rx.bytes + link.stats64.tx.bytes
}

async function mesh (h: LabHost): Promise<MeshView> {
  return await controlCall(h.socketPath, async api => await api.mesh(), 30_000)
}

async function measure (lab: Lab, dir: string, script: string): Promise<void> {
  const [h1, h2] = [lab.host('h1'), lab.host('h2')]
  progress('waiting for the tunnel between h1 and h2')
  await pollUntil(async () => {
    const views = await Promise.all([h1, h2].map(mesh))
    return views.every(v => v.peers.length === 1 && v.peers.every(p => p.latestHandshake > 0 && p.path === 'wireguard')) ? true : undefined
  }, 60_000, 'the WireGuard tunnel between h1 and h2')
  const [m1, m2] = await Promise.all([mesh(h1), mesh(h2)])
  if (m1.ifname === null || m2.address === null) throw new Error(`no mesh interface on h1 or address on h2: ${JSON.stringify({ h1: m1.ifname, h2: m2.address })}`)
  const wgIf = m1.ifname

  const appDir = await writeNginxApp({ dir: join(dir, 'app'), app: APP, listen: ['127.0.0.1', '[::]'], bulkBytes: 1024, stateRoot: join(dir, 'backend'), ports: [{ port: PORT, handlers: ['http'] }] })
  progress('roost deploy from h1, the machine on h2')
  const result = await roostDeploy({ appDir, dataDir: h1.dataDir, host: 'h2', kernel: 'distribution', netns: h1.netns })
  const id = result.machines[0]?.id
  const row = (await controlCall(h2.socketPath, async api => await api.state('machines'), 30_000)).find(r => r.key === id)
  const endpoint = (row?.data as { endpoint?: { host: string, port: number } | null } | null)?.endpoint
  if (result.machines.length !== 1 || result.machines[0]?.hostName !== 'h2' || endpoint == null) throw new Error(`expected one machine on h2 with an endpoint: ${JSON.stringify({ machines: result.machines, endpoint })}`)
  const roost = { host: h1.address, port: PORT }
  const direct = { host: m2.address, port: endpoint.port }

  await pollUntil(async () => {
    const a = await curlFrom(h1, `http://${HOSTNAME}:${PORT}/`, roost).catch(() => null)
    return a?.status === 200 && a.body === HELLO_BODY && /^roost-request-id: /mi.test(a.head) ? true : undefined
  }, 30_000, 'h1\'s router answering for the app on h2')
  const d = await curlFrom(h1, `http://${HOSTNAME}:${PORT}/`, direct)
  if (d.status !== 200 || d.body !== HELLO_BODY) throw new Error(`the machine does not answer at [${direct.host}]:${direct.port} from h1: ${d.status} ${d.body}`)
  progress(`h1 ${h1.address} → h2's machine ${endpoint.host}:${endpoint.port}; direct path [${direct.host}]:${direct.port} over ${wgIf}`)

  const run = (target: { host: string, port: number }) => ({ url: `http://${HOSTNAME}:${target.port}/`, target, connections: CONNECTIONS, netns: h1.netns })
  // The tunnel's bytes around each sample show that both paths really cross it.
  const loadAvg = loadAvg1()
  const answersBefore = (await routesOf(h1.socketPath, APP))?.counters ?? {}
  const tunnel: Record<string, { bytes: number, requests: number }> = { roost: { bytes: 0, requests: 0 }, direct: { bytes: 0, requests: 0 } }
  const f = await alternate('backhaul', script, [{ name: 'roost', run: run(roost) }, { name: 'direct', run: run(direct) }], async (name, sample) => {
    const before = await ifBytes(h1, wgIf)
    const r = await sample()
    const t = tunnel[name] as { bytes: number, requests: number }
    t.bytes += await ifBytes(h1, wgIf) - before
    t.requests += r.requests
    return r
  })
  const perRequest = (name: string): number => (tunnel[name]?.bytes ?? 0) / Math.max(1, tunnel[name]?.requests ?? 0)
  for (const name of ['roost', 'direct']) {
    if (perRequest(name) < 100) throw new Error(`backhaul: only ${round(perRequest(name), 1)} bytes per ${name} request crossed ${wgIf}; that path did not go through the tunnel`)
  }
  for (const [name, fig] of Object.entries(f)) {
    if (errorCount(fig.errors) > 0) throw new Error(`backhaul: ${name} had errors: ${JSON.stringify(reportedErrors(fig.errors))} of ${fig.requests}`)
  }
  // The router reports its counters a few times a second: wait for the last sample's to arrive.
  await new Promise(resolve => setTimeout(resolve, 1_000))
  const answersAfter = (await routesOf(h1.socketPath, APP))?.counters ?? {}
  const roostAnswers = Object.fromEntries(Object.entries(answersAfter).map(([k, n]) => [k, n - (answersBefore[k] ?? 0)]).filter(([, n]) => n !== 0))
  if (Object.keys(roostAnswers).some(k => k !== '2xx')) throw new Error(`backhaul: h1's router answered ${JSON.stringify(roostAnswers)}, not only 2xx`)
  const r = f.roost as PathFigures; const dr = f.direct as PathFigures
  report('proxy', {
    case: 'backhaul',
    reqPerSec: Math.round(r.reqPerSec),
    directReqPerSec: Math.round(dr.reqPerSec),
    ratio: round(r.reqPerSec / dr.reqPerSec),
    roundRatios: roundRatios(r, dr, 'reqPerSec'),
    p99Ms: round(r.p99Ms, 2),
    directP99Ms: round(dr.p99Ms, 2),
    p50Ms: round(r.p50Ms, 2),
    directP50Ms: round(dr.p50Ms, 2),
    roostAnswers,
    tunnelBytesPerRequest: Math.round(perRequest('roost')),
    directTunnelBytesPerRequest: Math.round(perRequest('direct')),
    samples: ROUNDS,
    sampleSec: SAMPLE_SEC,
    connections: CONNECTIONS,
    wrkThreads: 1,
    pinned: false,
    loadAvg1: loadAvg,
    target: 0.8
  })
}

/** The backhaul case in its own lab (root, namespaces, wireguard-go). */
export async function benchBackhaul (dir: string, script: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const lab = createLab({ hosts: 2, binPath: BIN, dir: join(dir, 'lab'), logLevel: AGENT_LOG_LEVEL, agentArgs: ['--driver', 'process', '--wireguard', 'on'] }, { logger: createLogger({ level: 'warn' }) })
  try {
    progress('starting a lab of 2 hosts (WireGuard on, process driver)')
    await lab.start()
    await lab.waitForMembership()
    await measure(lab, dir, script)
  } finally {
    await lab.stop()
  }
}
