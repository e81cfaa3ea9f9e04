import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MeshView, RowView } from '../../src/api/control-api.js'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import { controlCall } from '../../src/lab/lab-agents.js'
import { labPath } from '../../src/lab/lab-exec.js'
import { ipTool } from '../../src/lab/lab-network.js'
import { createLab, type Lab, type LabHost } from '../../src/lab/lab.js'
import { silentLogger } from '../../src/log/logger.js'
import { parseWgDump } from '../../src/mesh/wg-dump.js'
import type { RoutesView } from '../../src/proxy/data-plane-view.js'
import { obtainGuestParts } from '../../src/vmm/image/debian-packages.js'
import { MACHINE_TMP } from '../../src/vmm/process-driver.js'
import { CA_CERT_FILE, ensureDevCa } from '../../src/proxy/tls/dev-ca.js'
import { BIN, type CliResult } from './cli.js'
import type { Conversation, ConversationResult } from './netns-client.js'
import { retry } from './retry.js'

/** The router lab's app (test/fixtures/apps/router-echo): its roost.toml is `web`, the others are `<app>.roost.toml`. */
export const ECHO_APP_DIR = fileURLToPath(new URL('../fixtures/apps/router-echo', import.meta.url))
const NETNS_CLIENT = fileURLToPath(new URL('./netns-client.ts', import.meta.url))
export const LAB_DOMAIN = 'roost.internal'
export const CA_NAME = 'roost router-lab CA'
const DEPLOY_TIMEOUT_MS = 180_000

/** A lab whose hosts run with WireGuard, the process driver, a shared CA and a region each. */
export interface RouterLab {
  lab: Lab
  dir: string
  caFile: string
  hosts: LabHost[]
  stop: () => Promise<void>
}

let guestParts: Promise<unknown> | undefined

/**
 * Fetches the Debian parts the lab's deploys build images from (`--kernel distribution`) into
 * the shared cache, here in the host's namespace, once per test process: lab hosts have no DNS,
 * so a deploy there can only use what is cached.
 */
export async function warmGuestParts (): Promise<void> {
  guestParts ??= obtainGuestParts({}, { logger: silentLogger() })
  try {
    await guestParts
  } catch (err) {
    guestParts = undefined
    throw err
  }
}

/**
 * Starts hosts h1… (one per region given) in a network-namespace lab, each agent with
 * `--wireguard on --driver process --region <r> --ca-dir <CA>`, and waits for the membership and
 * for every pair of hosts to have a WireGuard handshake (`opts.env`: the agents' extra environment). stop() is safe at any point; with
 * ROOST_KEEP_LAB_DIR set it leaves the lab's dir (agent logs) for a look after a failure.
 */
export async function startRouterLab (regions: string[], prefix: string, opts: { env?: Record<string, string> } = {}): Promise<RouterLab> {
  await warmGuestParts()
  const dir = await mkdtemp(join(tmpdir(), prefix))
  labDirs.add(dir)
  const caDir = join(dir, 'ca')
  await ensureDevCa(caDir, CA_NAME)
  const lab = createLab({ hosts: 0, binPath: BIN, dir, logLevel: 'debug', ...(opts.env === undefined ? {} : { env: opts.env }), agentArgs: ['--driver', 'process', '--wireguard', 'on', '--ca-dir', caDir] }, { logger: silentLogger() })
  const rl: RouterLab = {
    lab,
    dir,
    caFile: join(caDir, CA_CERT_FILE),
    hosts: lab.hosts,
    async stop () {
      await lab.stop()
      labDirs.delete(dir)
      if (process.env.ROOST_KEEP_LAB_DIR === undefined) await rm(dir, { recursive: true, force: true })
    }
  }
  try {
    await lab.start()
    for (const [i, region] of regions.entries()) await lab.addHost(`h${i + 1}`, { agentArgs: ['--region', region], start: false })
    await Promise.all(lab.hosts.map(async h => await lab.startAgent(h.name)))
    await lab.waitForMembership()
    await retry(async () => {
      for (const h of lab.hosts) {
        const v = await meshOf(h)
        if (v.peers.length !== lab.hosts.length - 1 || !v.peers.every(p => p.latestHandshake > 0 && p.path === 'wireguard')) return false
      }
      return true
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'a WireGuard tunnel between every pair of lab hosts' })
  } catch (err) {
    await rl.stop()
    throw err
  }
  return rl
}

/** The dirs of the router labs running in this process (where their hosts' data dirs are). */
const labDirs = new Set<string>()

/**
 * Where the router-echo app of a machine keeps its request log and flags: its TMPDIR, which the
 * process driver makes inside the machine's own directory (`<host data dir>/machines/<id>/tmp`).
 * Throws while no host of a running lab has it.
 */
export function stateDir (machineId: string): string {
  for (const lab of labDirs) {
    for (const host of readdirSync(lab)) {
      const dir = join(lab, host, 'machines', machineId, MACHINE_TMP, `roost-router-echo-${machineId}`)
      if (existsSync(dir)) return dir
    }
  }
  throw new Error(`no router-echo state for machine ${machineId} in any running lab`)
}

/** A request as the router-echo app recorded it. */
export interface Recorded { at: number, method: string, path: string, proxy: unknown, replaySrc: string | null }

/** What a machine's app received, health checks left out. */
export async function received (machineId: string): Promise<Recorded[]> {
  let dir: string
  try {
    dir = stateDir(machineId)
  } catch {
    return []
  }
  const text = await readFile(join(dir, 'requests.jsonl'), 'utf8').catch(() => '')
  return text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Recorded).filter(r => r.path !== '/health')
}

/** `roost <args>` inside a host's namespace (where its Machines API listens on 127.0.0.1). */
export async function roostIn (h: LabHost, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return await new Promise(resolve => {
    execFile(ipTool(), ['netns', 'exec', h.netns, process.execPath, BIN, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PATH: labPath() } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** `roost deploy` of the router-echo app with one of its configs, from `h`; raw result (it may be refused). */
export async function deployRaw (h: LabHost, config: string, args: string[] = []): Promise<CliResult> {
  return await roostIn(h, ['deploy', ECHO_APP_DIR, '--config', join(ECHO_APP_DIR, config), '--data-dir', h.dataDir, '--kernel', 'distribution', '--wait-timeout', '90', '--json', ...args], DEPLOY_TIMEOUT_MS)
}

/** `roost deploy` that must succeed. */
export async function deploy (h: LabHost, config: string, args: string[] = []): Promise<DeployResult> {
  const r = await deployRaw(h, config, args)
  if (r.code !== 0) throw new Error(`roost deploy ${config} failed (${r.code}): ${r.stderr}`)
  return JSON.parse(r.stdout) as DeployResult
}

/** The deployed machine of `result` on the host called `name`. */
export function machineOn (result: DeployResult, name: string): string {
  const m = result.machines.find(x => x.hostName === name)
  if (m === undefined) throw new Error(`${result.app} has no machine on ${name}: ${JSON.stringify(result.machines)}`)
  return m.id
}

export async function routesOf (h: LabHost, app?: string): Promise<RoutesView> {
  const r = await controlCall(h.socketPath, async api => await api.send('local/agent/router', { type: 'router.routes', ...(app === undefined ? {} : { app }) }, { timeoutMs: 10_000 }), 20_000)
  return r.reply as RoutesView
}

export async function meshOf (h: LabHost): Promise<MeshView> {
  return await controlCall(h.socketPath, async api => await api.mesh(), 20_000)
}

export async function stateOf (h: LabHost, table: string): Promise<RowView[]> {
  return await controlCall(h.socketPath, async api => await api.state(table), 20_000)
}

/** Waits until `h`'s router has the app with exactly these machines routable, none waiting for its first check, and its listeners open. */
export async function routable (h: LabHost, app: string, machines: string[], timeoutMs = 30_000): Promise<RoutesView> {
  const want = [...machines].sort().join(',')
  return await retry(async () => {
    const v = await routesOf(h, app)
    const a = v.apps.find(x => x.app === app)
    if (a === undefined) return false
    const ports = new Set(a.ports.map(p => p.port))
    if (!v.listeners.filter(l => ports.has(l.port)).every(l => l.state === 'listening')) return false
    const ready = a.machines.filter(m => m.routable && m.health !== 'warning')
    return ready.map(m => m.id).sort().join(',') === want && v
  }, { timeoutMs, intervalMs: 200, what: `${h.name}'s router to route ${app} to exactly [${want}]` })
}

/** An HTTP answer as curl printed it, and the client end curl used. */
export interface CurlAnswer {
  status: number
  headers: Record<string, string>
  body: string
  localIp: string
  localPort: number
}

/** curl inside a host's namespace: `curl -sS -i URL extra…`. */
export async function curlIn (lab: Lab, h: LabHost, url: string, extra: string[] = []): Promise<CurlAnswer> {
  const out = await lab.exec(h.name, 'curl', ['-sS', '-i', '--max-time', '30', '-w', '\n@@%{local_ip} %{local_port}', ...extra, url])
  const mark = out.lastIndexOf('\n@@')
  const [localIp = '', localPort = '0'] = out.slice(mark + 3).trim().split(' ')
  let text = out.slice(0, mark)
  // Interim answers (100 Continue) come first, each a head of its own.
  while (/^HTTP\/1\.1 1\d\d /.test(text)) text = text.slice(text.indexOf('\r\n\r\n') + 4)
  const split = text.indexOf('\r\n\r\n')
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const l of lines) {
    const c = l.indexOf(':')
    headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4), localIp, localPort: Number(localPort) }
}

/** The JSON router-echo answers with. */
export interface EchoInfo {
  machine: string
  method: string
  path: string
  headers: Record<string, string>
  proxy: Record<string, unknown> | null
  peer: { address: string, port: number }
  /** The request body's first 4 KiB (latin1), its length and sha256. */
  body: string
  bodyLength: number
  bodySha256: string
  pad?: string
  inflight?: number
  maxInflight?: number
}

export function echoOf (a: CurlAnswer): EchoInfo {
  if (a.status !== 200) throw new Error(`HTTP ${a.status}: ${a.body.slice(0, 500)}`)
  return JSON.parse(a.body) as EchoInfo
}

/** Runs raw TCP conversations at once inside a host's namespace (test/helpers/netns-client.ts). */
export async function converse (lab: Lab, h: LabHost, conversations: Conversation[]): Promise<ConversationResult[]> {
  const out = await lab.exec(h.name, process.execPath, ['--import', 'tsx', NETNS_CLIENT, JSON.stringify(conversations)])
  return JSON.parse(out) as ConversationResult[]
}

/** Bytes through `h`'s WireGuard interface per peer host name (from `wg show IF dump` in its namespace). */
export async function tunnelBytes (lab: Lab, h: LabHost): Promise<Map<string, { rx: number, tx: number }>> {
  const v = await meshOf(h)
  if (v.ifname === null) throw new Error(`${h.name} has no WireGuard interface`)
  const dump = parseWgDump(await lab.exec(h.name, 'wg', ['show', v.ifname, 'dump']))
  const out = new Map<string, { rx: number, tx: number }>()
  for (const p of v.peers) {
    const d = dump.peers.find(x => x.publicKey === p.publicKey)
    out.set(p.name, { rx: d?.rxBytes ?? 0, tx: d?.txBytes ?? 0 })
  }
  return out
}

/** An HTTP/1.1 request as raw text. */
export function rawRequest (host: string, path = '/', extra: string[] = []): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra.map(l => `${l}\r\n`).join('')}\r\n`
}

/** The status lines and `roost-error` codes in raw HTTP text, in order. */
export function answersIn (text: string): Array<{ status: number, code: string | null }> {
  const out: Array<{ status: number, code: string | null }> = []
  for (const m of text.matchAll(/HTTP\/1\.1 (\d{3}) [^\r]*\r\n((?:[^\r]+\r\n)*)\r\n/g)) {
    const code = /^roost-error: (\S+)/im.exec(m[2] ?? '')
    out.push({ status: Number(m[1]), code: code?.[1] ?? null })
  }
  return out
}
