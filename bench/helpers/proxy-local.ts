import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startLocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { ensureDevCa, issueLeaf, type CaMaterial } from '../../src/proxy/tls/dev-ca.js'
import { benchCpus, endIfStill, pinChecked, threadCount } from './cpu-pin.js'
import { startHaproxy, type Haproxy } from './haproxy.js'
import { httpOnce, type OnceRequest } from './http-once.js'
import { BULK_PATH, HELLO_BODY, writeNginxApp } from './nginx-app.js'
import { AGENT_LOG_LEVEL, BIN, deployedMachine, machinesOf, roostDeploy, routesOf } from './proxy-deploy.js'
import { alternate, loadAvg1, reportedErrors, roundRatios, ROUNDS, SAMPLE_SEC, type Path, type PathFigures } from './proxy-rounds.js'
import { progress, report, round } from './report.js'
import { errorCount } from './wrk.js'

// The single-host cases (http, https, tcp, conn-churn): one agent (process driver) whose app's
// machine execs nginx, HAProxy beside it forwarding to that same nginx, wrk against both.

const APP = 'bench'
const HOSTNAME = `${APP}.roost.internal`
/** The router's data plane is one worker thread (src/proxy/data-plane-thread.ts): HAProxy gets as many. */
const DATA_PLANE_THREADS = 1
const PORTS = { http: 8080, https: 8443, tcp: 8090 }
/** HAProxy's frontends: the same address as roost's listeners, these ports. */
const HAPROXY_PORTS = { http: 9080, https: 9443, tcp: 9090 }
const KEEPALIVE_CONNECTIONS = Number(process.env.BENCH_PROXY_CONNECTIONS ?? 64)
const CHURN_CONNECTIONS = Number(process.env.BENCH_PROXY_CHURN_CONNECTIONS ?? 16)
const BULK_CONNECTIONS = Number(process.env.BENCH_PROXY_BULK_CONNECTIONS ?? 8)
const BULK_BYTES = Number(process.env.BENCH_PROXY_BULK_MB ?? 4) * 1024 * 1024
const TARGETS: Record<string, number> = { http: 1.0, https: 0.8, tcp: 1.0, 'conn-churn': 0.8 }

interface Setup {
  script: string
  host: LocalHost
  haproxy: Haproxy
  backend: { host: string, port: number }
  ca: CaMaterial
  cpus: { proxy: number, load: number }
  agentThreads: number
}

/** The fields every single-host line carries: the method. */
function method (s: Setup, connections: number): Record<string, unknown> {
  return {
    samples: ROUNDS,
    sampleSec: SAMPLE_SEC,
    connections,
    wrkThreads: 1,
    dataPlaneThreads: DATA_PLANE_THREADS,
    haproxyThreads: DATA_PLANE_THREADS,
    haproxy: s.haproxy.version,
    proxyCpu: s.cpus.proxy,
    loadCpu: s.cpus.load,
    agentThreads: s.agentThreads
  }
}

/** The router's answers for the app so far, per result (`2xx`, `PR04`, `connected`…). */
async function answers (s: Setup): Promise<Record<string, number>> {
  return (await routesOf(s.host.socketPath, APP))?.counters ?? {}
}

/**
 * Runs a case's samples and returns its figures, with the router's own count of its answers
 * during them (warm-up included); fails when the router gave any answer but `expected`.
 */
async function measured (s: Setup, label: string, ps: Path[], expected: string): Promise<{ f: Record<string, PathFigures>, roostAnswers: Record<string, number>, loadAvg: number }> {
  const loadAvg = loadAvg1()
  const before = await answers(s)
  const f = await alternate(label, s.script, ps)
  // The router reports its counters a few times a second: wait for the last sample's to arrive.
  await new Promise(resolve => setTimeout(resolve, 1_000))
  const after = await answers(s)
  const roostAnswers = Object.fromEntries(Object.entries(after).map(([k, n]) => [k, n - (before[k] ?? 0)]).filter(([, n]) => n !== 0))
  noErrors(label, f)
  const other = Object.keys(roostAnswers).filter(k => k !== expected)
  if (other.length > 0) throw new Error(`${label}: the router answered ${JSON.stringify(roostAnswers)}, not only ${expected}`)
  return { f, roostAnswers, loadAvg }
}

/** Fails when a path answered with errors: its rate would not be a rate of good answers. */
function noErrors (label: string, figures: Record<string, PathFigures>): void {
  const bad = Object.entries(figures).filter(([, f]) => errorCount(f.errors) > 0)
  if (bad.length > 0) throw new Error(`${label}: errors during the samples: ${bad.map(([n, f]) => `${n} ${JSON.stringify(reportedErrors(f.errors))} of ${f.requests}`).join('; ')}`)
}

async function expect (what: string, r: OnceRequest, check: (a: Awaited<ReturnType<typeof httpOnce>>) => string | null): Promise<void> {
  const a = await httpOnce(r)
  const problem = a.status !== 200 ? `status ${a.status} (${a.headers['roost-error']?.toString() ?? ''} ${a.body.slice(0, 200)})` : check(a)
  if (problem !== null) throw new Error(`${what}: ${problem}`)
}

/** Each path answers as it should before it is measured: body, the proxy's headers, the certificate. */
async function checkPaths (s: Setup): Promise<void> {
  const addr = s.host.address
  const hello = (proxied: boolean, proto: string) => (a: Awaited<ReturnType<typeof httpOnce>>): string | null => {
    if (a.body !== HELLO_BODY) return `body ${JSON.stringify(a.body)}`
    if (!proxied) return null
    const saw = a.headers['x-backend-saw']?.toString() ?? ''
    // The client's address: loopback, whichever 127.x the kernel picked as the source.
    if (!new RegExp(`^127\\.\\d+\\.\\d+\\.\\d+ ${proto}$`).test(saw)) return `the backend saw X-Forwarded-For/-Proto "${saw}", not "<client 127.x address> ${proto}"`
    if (a.headers['roost-request-id'] === undefined || a.headers.via === undefined) return 'no request id or Via on the response'
    if (proto === 'https' && a.certKey !== 'P-256') return `certificate key ${a.certKey ?? 'none'}, not ECDSA P-256`
    return null
  }
  const bulk = (a: Awaited<ReturnType<typeof httpOnce>>): string | null => a.body.length === BULK_BYTES ? null : `${a.body.length} bytes, not ${BULK_BYTES}`
  const base = { hostname: HOSTNAME, timeoutMs: 10_000 }
  for (const [name, port] of [['roost', PORTS], ['haproxy', HAPROXY_PORTS]] as const) {
    await expect(`${name} http`, { ...base, target: { host: addr, port: port.http }, path: '/' }, hello(true, 'http'))
    await expect(`${name} https`, { ...base, target: { host: addr, port: port.https }, path: '/', tls: { ca: s.ca.certPem } }, hello(true, 'https'))
    await expect(`${name} tcp`, { ...base, target: { host: addr, port: port.tcp }, path: BULK_PATH }, bulk)
  }
  await expect('backend', { ...base, target: s.backend, path: '/' }, hello(false, 'http'))
}

/** Starts everything; each started part's stop goes onto `cleanups` at once, so a failure leaves nothing behind. */
async function setUp (dir: string, script: string, cleanups: Array<() => Promise<void>>): Promise<Setup> {
  const cpus = benchCpus()
  const ca = await ensureDevCa(join(dir, 'ca'))
  const appDir = await writeNginxApp({ dir: join(dir, 'app'), app: APP, listen: ['127.0.0.1'], bulkBytes: BULK_BYTES, stateRoot: join(dir, 'backend'), ports: [
    { port: PORTS.http, handlers: ['http'] }, { port: PORTS.https, handlers: ['tls', 'http'] }, { port: PORTS.tcp, handlers: [] }
  ] })
  progress(`starting one agent (process driver, --ca-dir) in ${dir}`)
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 1, dir: join(dir, 'cluster'), logLevel: AGENT_LOG_LEVEL, agentArgs: ['--driver', 'process'], caDir: join(dir, 'ca') })
  cleanups.push(async () => { await cluster.stop() })
  const host = cluster.hosts[0] as LocalHost
  pinChecked(host.process.pid as number, cpus.proxy, 'the agent')
  pinChecked(cluster.dht.pid as number, cpus.load, 'the DHT bootstrap')
  progress('roost deploy (nginx backend, ports http/https/tcp)')
  const result = await roostDeploy({ appDir, dataDir: host.dataDir, kernel: 'distribution' })
  const { endpoint, pid } = await deployedMachine(await machinesOf(host.dataDir), result)
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim()
  if (comm !== 'nginx') throw new Error(`the machine's process ${pid} is ${comm}, not nginx`)
  // Runs last: the agent stops its machine on exit; this only ends an nginx that outlived it.
  cleanups.unshift(async () => { await endIfStill(pid, 'nginx') })
  pinChecked(pid, cpus.load, 'the backend (nginx)')
  // Again: the agent's threads started since (data plane included) must all be on the proxy CPU.
  pinChecked(host.process.pid as number, cpus.proxy, 'the agent')
  await mkdir(join(dir, 'haproxy'), { recursive: true })
  const leaf = await issueLeaf(ca, { names: [HOSTNAME] })
  const pem = join(dir, 'haproxy', 'bench.pem')
  await writeFile(pem, leaf.certPem + leaf.keyPem, { mode: 0o600 })
  const bind = (port: number): { host: string, port: number } => ({ host: host.address, port })
  const haproxy = await startHaproxy({
    dir: join(dir, 'haproxy'),
    threads: DATA_PLANE_THREADS,
    cpu: cpus.proxy,
    frontends: [
      { name: 'http', mode: 'http', bind: bind(HAPROXY_PORTS.http), server: endpoint },
      { name: 'https', mode: 'http', bind: bind(HAPROXY_PORTS.https), tlsPem: pem, server: endpoint },
      { name: 'tcp', mode: 'tcp', bind: bind(HAPROXY_PORTS.tcp), server: endpoint }
    ]
  })
  cleanups.push(async () => { await haproxy.stop() })
  const setup: Setup = { script, host, haproxy, backend: endpoint, ca, cpus, agentThreads: threadCount(host.process.pid as number) }
  progress(`agent pid ${host.process.pid} (${setup.agentThreads} threads) and haproxy ${haproxy.version} pid ${haproxy.pid} on CPU ${cpus.proxy}; nginx pid ${pid} at ${endpoint.host}:${endpoint.port} and wrk on CPU ${cpus.load}`)
  const deadline = Date.now() + 30_000
  for (;;) {
    try { await checkPaths(setup); break } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }
  return setup
}

function paths (s: Setup, opts: { scheme: 'http' | 'https', port: 'http' | 'https' | 'tcp', path: string, connections: number, headers?: string[], direct: boolean }): Path[] {
  const url = (port: number): string => `${opts.scheme}://${HOSTNAME}:${port}${opts.path}`
  const common = { connections: opts.connections, cpu: s.cpus.load, ...(opts.headers === undefined ? {} : { headers: opts.headers }) }
  const out: Path[] = [
    { name: 'roost', run: { ...common, url: url(PORTS[opts.port]), target: { host: s.host.address, port: PORTS[opts.port] } } },
    { name: 'haproxy', run: { ...common, url: url(HAPROXY_PORTS[opts.port]), target: { host: s.host.address, port: HAPROXY_PORTS[opts.port] } } }
  ]
  if (opts.direct) out.push({ name: 'backend', run: { ...common, url: `http://${HOSTNAME}:${s.backend.port}${opts.path}`, target: s.backend } })
  return out
}

async function keepAlive (s: Setup, name: 'http' | 'https'): Promise<void> {
  const { f, roostAnswers, loadAvg } = await measured(s, name, paths(s, { scheme: name, port: name, path: '/', connections: KEEPALIVE_CONNECTIONS, direct: name === 'http' }), '2xx')
  const r = f.roost as PathFigures; const h = f.haproxy as PathFigures
  report('proxy', {
    case: name,
    reqPerSec: Math.round(r.reqPerSec),
    haproxyReqPerSec: Math.round(h.reqPerSec),
    ratio: round(r.reqPerSec / h.reqPerSec),
    roundRatios: roundRatios(r, h, 'reqPerSec'),
    p99Ms: round(r.p99Ms, 2),
    haproxyP99Ms: round(h.p99Ms, 2),
    p50Ms: round(r.p50Ms, 2),
    haproxyP50Ms: round(h.p50Ms, 2),
    ...(f.backend === undefined ? {} : { backendReqPerSec: Math.round(f.backend.reqPerSec) }),
    ...(name === 'https' ? { cert: 'ECDSA P-256', roostCert: 'on-demand from --ca-dir' } : {}),
    roostAnswers,
    loadAvg1: loadAvg,
    ...method(s, KEEPALIVE_CONNECTIONS),
    target: TARGETS[name]
  })
}

async function bulk (s: Setup): Promise<void> {
  const { f, roostAnswers, loadAvg } = await measured(s, 'tcp', paths(s, { scheme: 'http', port: 'tcp', path: BULK_PATH, connections: BULK_CONNECTIONS, direct: true }), 'connected')
  const r = f.roost as PathFigures; const h = f.haproxy as PathFigures
  report('proxy', {
    case: 'tcp',
    mbPerSec: round(r.mbPerSec, 1),
    haproxyMbPerSec: round(h.mbPerSec, 1),
    ratio: round(r.mbPerSec / h.mbPerSec),
    roundRatios: roundRatios(r, h, 'mbPerSec'),
    backendMbPerSec: round(f.backend?.mbPerSec ?? NaN, 1),
    responseBytes: BULK_BYTES,
    roostAnswers,
    loadAvg1: loadAvg,
    ...method(s, BULK_CONNECTIONS),
    target: TARGETS.tcp
  })
}

async function churn (s: Setup): Promise<void> {
  const { f, roostAnswers, loadAvg } = await measured(s, 'conn-churn', paths(s, { scheme: 'http', port: 'http', path: '/', connections: CHURN_CONNECTIONS, headers: ['Connection: close'], direct: true }), '2xx')
  const r = f.roost as PathFigures; const h = f.haproxy as PathFigures
  report('proxy', {
    case: 'conn-churn',
    connPerSec: Math.round(r.reqPerSec),
    haproxyConnPerSec: Math.round(h.reqPerSec),
    ratio: round(r.reqPerSec / h.reqPerSec),
    roundRatios: roundRatios(r, h, 'reqPerSec'),
    p99Ms: round(r.p99Ms, 2),
    haproxyP99Ms: round(h.p99Ms, 2),
    backendConnPerSec: Math.round(f.backend?.reqPerSec ?? NaN),
    roostAnswers,
    loadAvg1: loadAvg,
    ...method(s, CHURN_CONNECTIONS),
    target: TARGETS['conn-churn']
  })
}

/** Runs the chosen single-host cases in one setup. */
export async function benchLocalCases (dir: string, script: string, cases: string[]): Promise<void> {
  const cleanups: Array<() => Promise<void>> = []
  try {
    const setup = await setUp(dir, script, cleanups)
    if (cases.includes('http')) await keepAlive(setup, 'http')
    if (cases.includes('https')) await keepAlive(setup, 'https')
    if (cases.includes('tcp')) await bulk(setup)
    if (cases.includes('conn-churn')) await churn(setup)
  } finally {
    for (const stop of cleanups.reverse()) await stop()
  }
}
