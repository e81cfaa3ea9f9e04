import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { ExecutionContext } from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import { silentLogger } from '../../src/log/logger.js'
import { createDataPlane, type DataPlane } from '../../src/proxy/data-plane.js'
import type { ProxyLimits } from '../../src/proxy/proxy-context.js'
import type { AppRoute, ListenerRoute, MachineRoute, RouteTable, ServiceRoute } from '../../src/proxy/route-table.js'
import { createCertStore } from '../../src/proxy/tls/cert-store.js'
import { machine } from './fixtures.js'
import type { CaMaterial } from '../../src/proxy/tls/dev-ca.js'

export const BACKHAUL_KEY = Buffer.alloc(32, 3)
export const CERT_KEY = Buffer.alloc(32, 4)

export { freePort } from '../helpers/free-port.js'

export interface Backend {
  name: string
  port: number
  server: HttpServer
  requests: number
  /** Headers of the last request. */
  last: IncomingMessage['headers'] | undefined
}

/** A real HTTP server standing in for a machine's guest app; answers JSON about the request. */
export async function startBackend (t: ExecutionContext, name: string, handler?: (req: IncomingMessage, res: ServerResponse, b: Backend) => boolean): Promise<Backend> {
  const b: Backend = { name, port: 0, server: undefined as unknown as HttpServer, requests: 0, last: undefined }
  b.server = createHttpServer((req, res) => {
    b.requests++
    b.last = req.headers
    if (handler?.(req, res, b) === true) return
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.stringify({ machine: name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  await new Promise<void>(resolve => b.server.listen(0, '127.0.0.1', resolve))
  const a = b.server.address()
  b.port = typeof a === 'object' && a !== null ? a.port : 0
  t.teardown(() => { b.server.closeAllConnections(); b.server.close() })
  return b
}

/** A raw TCP server standing in for a machine: records what arrives and echoes it back. */
export async function startRawBackend (t: ExecutionContext): Promise<{ port: number, received: () => Buffer, connections: number, server: Server }> {
  const chunks: Buffer[] = []
  const state = { port: 0, received: () => Buffer.concat(chunks), connections: 0, server: undefined as unknown as Server }
  const sockets = new Set<Socket>()
  state.server = createServer(s => {
    state.connections++
    sockets.add(s)
    s.on('data', (c: Buffer) => { chunks.push(c); s.write(c) })
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  })
  await new Promise<void>(resolve => state.server.listen(0, '127.0.0.1', resolve))
  const a = state.server.address()
  state.port = typeof a === 'object' && a !== null ? a.port : 0
  t.teardown(() => { for (const s of sockets) s.destroy(); state.server.close() })
  return state
}

let seq = 0
/** A local machine route whose guest answers at 127.0.0.1:`port`. */
export function machineAt (port: number, over: Partial<MachineRoute> = {}): MachineRoute {
  seq++
  return machine({ id: (0xa00000 + seq).toString(16).padStart(14, '0'), host: 'a'.repeat(64), endpoint: { host: '127.0.0.1', port }, ...over })
}

export function httpService (port: number, over: Partial<ServiceRoute> = {}, portOver: Partial<ServiceRoute['ports'][number]> = {}): ServiceRoute {
  return {
    index: 0,
    internalPort: 8080,
    ports: [{ port, tls: false, http: true, proxyProto: 0, forceHttps: false, alpn: ['http/1.1'], ...portOver }],
    concurrency: { type: 'requests', softLimit: 20, hardLimit: 25 },
    autoStart: true,
    autoStop: 'off',
    minMachinesRunning: 0,
    ...over
  }
}

export function appRoute (name: string, machines: MachineRoute[], services: ServiceRoute[], hostnames: string[] = []): AppRoute {
  return { app: name, hostnames: [`${name}.roost.test`, ...hostnames], primaryRegion: null, services, machines: machines.map(m => ({ ...m, app: name })) }
}

/** A route table with listeners derived from the apps' ports (apps given in deploy order). */
export function tableOf (apps: AppRoute[], over: Partial<RouteTable> = {}): RouteTable {
  const listeners = new Map<number, ListenerRoute>()
  for (const a of apps) {
    for (const s of a.services) {
      for (const p of s.ports) {
        const l = listeners.get(p.port)
        if (l === undefined) listeners.set(p.port, { port: p.port, tls: p.tls, http: !p.tls && p.http, apps: [{ app: a.app, service: s.index }] })
        else l.apps.push({ app: a.app, service: s.index })
      }
    }
  }
  return { version: ++seq, hostId: 'a'.repeat(64), region: 'ams', domain: 'roost.test', apps: Object.fromEntries(apps.map(a => [a.app, a])), hosts: {}, listeners: [...listeners.values()], certs: [], rejected: [], acmeChallenges: {}, ...over }
}

/** An in-process data plane on 127.0.0.1, stopped after the test. */
export async function startDataPlane (t: ExecutionContext, opts: { limits?: Partial<ProxyLimits>, ca?: CaMaterial, hostId?: string, region?: string } = {}): Promise<DataPlane> {
  const logger = silentLogger()
  const certs = createCertStore({ ...(opts.ca === undefined ? {} : { ca: opts.ca }), certKey: CERT_KEY, domain: 'roost.test' }, { logger })
  const dp = createDataPlane({ hostId: opts.hostId ?? 'a'.repeat(64), region: opts.region ?? 'ams', domain: 'roost.test', proxyAddress: '127.0.0.1', backhaulKey: BACKHAUL_KEY, ...(opts.limits === undefined ? {} : { limits: opts.limits }) }, { logger, codec: createCodec(), certs })
  await dp.start()
  t.teardown(async () => { await dp.stop() })
  return dp
}

/** Resolves once every listener of the table accepts connections. */
export async function listening (dp: DataPlane, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const snap = dp.snapshot()
    if (snap.listeners.every(l => l.state === 'listening')) return
    if (snap.listeners.some(l => l.state === 'failed')) throw new Error(`listener failed: ${JSON.stringify(snap.listeners)}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error('listeners did not open')
}

/** Sends raw bytes and collects everything until the server closes (or `untilMs` passes). */
export async function rawExchange (port: number, data: Buffer | string, opts: { untilMs?: number, host?: string } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: opts.host ?? '127.0.0.1', port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')) }, opts.untilMs ?? 3_000)
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', (err) => { clearTimeout(timer); reject(err) })
    s.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')) })
    s.write(data)
  })
}
