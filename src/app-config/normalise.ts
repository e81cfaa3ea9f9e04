import { MachineConfigSchema, type MachineConfig } from '../api/machines/schemas.js'
import type { ServicePort, ServiceSpec } from '../gossip/rows.js'
import { DEFAULT_AUTO_START, DEFAULT_AUTO_STOP, DEFAULT_CONCURRENCY, DEFAULT_MIN_MACHINES_RUNNING, HTTP_SERVICE_PORTS, type AppSpec } from './app-spec.js'
import { formatKeyPath, type KeyPath } from './key-path.js'
import type { AppConfigDoc, ConcurrencyDoc, HttpCheckDoc, HttpServiceDoc, PortDoc, ServiceDoc, TcpCheckDoc } from './schema.js'

/** Reports a semantic error at a key path; never returns. */
export type Fail = (path: KeyPath, message: string) => never

type Check = NonNullable<MachineConfig['checks']>[string]
type Autoscaling = Pick<ServiceSpec, 'autoStopMachines' | 'autoStartMachines' | 'minMachinesRunning'>

const MAX_SERVICES = 16
const MEMORY_LIMITS = MachineConfigSchema.properties.guest.properties.memory_mb

function autoscaling (doc: Pick<ServiceDoc, 'auto_stop_machines' | 'auto_start_machines' | 'min_machines_running'>): Autoscaling {
  const stop = doc.auto_stop_machines
  return {
    autoStopMachines: stop === undefined ? DEFAULT_AUTO_STOP : stop === true ? 'stop' : stop === false ? 'off' : stop,
    autoStartMachines: doc.auto_start_machines ?? DEFAULT_AUTO_START,
    minMachinesRunning: doc.min_machines_running ?? DEFAULT_MIN_MACHINES_RUNNING
  }
}

function concurrency (doc: ConcurrencyDoc | undefined, at: KeyPath, fail: Fail): ServiceSpec['concurrency'] {
  const soft = doc?.soft_limit
  const hard = doc?.hard_limit
  if (soft !== undefined && hard !== undefined && soft > hard) fail([...at, 'soft_limit'], `soft_limit (${soft}) is above hard_limit (${hard})`)
  // With one limit given, the other's default yields to it rather than contradict it.
  const softLimit = soft ?? Math.min(DEFAULT_CONCURRENCY.softLimit, hard ?? DEFAULT_CONCURRENCY.hardLimit)
  return { type: doc?.type ?? DEFAULT_CONCURRENCY.type, softLimit, hardLimit: hard ?? Math.max(DEFAULT_CONCURRENCY.hardLimit, softLimit) }
}

function port (doc: PortDoc, at: KeyPath, fail: Fail): ServicePort {
  const handlers = doc.handlers ?? []
  handlers.forEach((h, i) => { if (handlers.indexOf(h) !== i) fail([...at, 'handlers'], `"${h}" is listed twice`) })
  const forceHttps = doc.force_https ?? false
  if (forceHttps && (!handlers.includes('http') || handlers.includes('tls'))) {
    fail([...at, 'force_https'], 'force_https redirects plain HTTP to https: it needs the "http" handler and no "tls" on the same port')
  }
  if (doc.proxy_proto_options !== undefined && !handlers.includes('proxy_proto')) fail([...at, 'proxy_proto_options'], 'proxy_proto_options without the "proxy_proto" handler')
  if (doc.tls_options !== undefined && !handlers.includes('tls')) fail([...at, 'tls_options'], 'tls_options without the "tls" handler')
  const out: ServicePort = { port: doc.port, handlers, forceHttps, proxyProtoVersion: doc.proxy_proto_options?.version === 'v2' ? 2 : 1 }
  if (doc.tls_options?.alpn !== undefined) out.alpn = [...doc.tls_options.alpn]
  return out
}

function timing (doc: TcpCheckDoc): Partial<Check> {
  const out: Partial<Check> = {}
  if (doc.interval !== undefined) out.interval = doc.interval
  if (doc.timeout !== undefined) out.timeout = doc.timeout
  if (doc.grace_period !== undefined) out.grace_period = doc.grace_period
  if (doc.restart_limit !== undefined) out.restart_limit = doc.restart_limit
  return out
}

function httpCheck (doc: HttpCheckDoc, internalPort: number): Check {
  return {
    type: 'http',
    port: internalPort,
    ...timing(doc),
    path: doc.path ?? '/',
    ...(doc.method === undefined ? {} : { method: doc.method.toUpperCase() as 'GET' | 'HEAD' })
  }
}

/** Builds the checked AppSpec from a document that passed the schema; semantic errors go to `fail`. */
export function normaliseAppConfig (doc: AppConfigDoc, fail: Fail): AppSpec {
  const services: ServiceSpec[] = []
  const checks: Record<string, Check> = {}
  const serviceChecks = new Map<string, KeyPath>()
  const usedPorts = new Map<number, KeyPath>()
  const claim = (p: number, at: KeyPath): void => {
    const first = usedPorts.get(p)
    if (first !== undefined) fail(at, `port ${p} is also ${formatKeyPath(first)}'s: a port belongs to one service of the app`)
    usedPorts.set(p, at)
  }

  if (doc.http_service !== undefined) {
    const h: HttpServiceDoc = doc.http_service
    const at = ['http_service']
    claim(HTTP_SERVICE_PORTS.http, at)
    claim(HTTP_SERVICE_PORTS.https, at)
    const https: ServicePort = { port: HTTP_SERVICE_PORTS.https, handlers: ['tls', 'http'], forceHttps: false, proxyProtoVersion: 1 }
    if (h.tls_options?.alpn !== undefined) https.alpn = [...h.tls_options.alpn]
    services.push({
      protocol: 'tcp',
      internalPort: h.internal_port,
      ports: [{ port: HTTP_SERVICE_PORTS.http, handlers: ['http'], forceHttps: h.force_https ?? false, proxyProtoVersion: 1 }, https],
      concurrency: concurrency(h.concurrency, [...at, 'concurrency'], fail),
      ...autoscaling(h)
    })
    h.checks?.forEach((c, j) => {
      const name = `svc0-http${j}`
      checks[name] = httpCheck(c, h.internal_port)
      serviceChecks.set(name, [...at, 'checks', j])
    })
  }

  doc.services?.forEach((s, i) => {
    const at = ['services', i]
    if (services.length >= MAX_SERVICES) fail(at, `at most ${MAX_SERVICES} services, [http_service] included`)
    const index = services.length
    const ports = (s.ports ?? []).map((p, j) => {
      claim(p.port, [...at, 'ports', j, 'port'])
      return port(p, [...at, 'ports', j], fail)
    })
    services.push({ protocol: 'tcp', internalPort: s.internal_port, ports, concurrency: concurrency(s.concurrency, [...at, 'concurrency'], fail), ...autoscaling(s) })
    s.tcp_checks?.forEach((c, j) => {
      const name = `svc${index}-tcp${j}`
      checks[name] = { type: 'tcp', port: s.internal_port, ...timing(c) }
      serviceChecks.set(name, [...at, 'tcp_checks', j])
    })
    s.http_checks?.forEach((c, j) => {
      const name = `svc${index}-http${j}`
      checks[name] = httpCheck(c, s.internal_port)
      serviceChecks.set(name, [...at, 'http_checks', j])
    })
  })

  for (const [name, c] of Object.entries(doc.checks ?? {})) {
    const at = ['checks', name]
    if (serviceChecks.has(name)) fail(at, `the name "${name}" is taken by the check of ${formatKeyPath(serviceChecks.get(name) ?? [])}`)
    if (c.type === 'tcp') {
      if (c.path !== undefined) fail([...at, 'path'], 'path applies to http checks only')
      if (c.method !== undefined) fail([...at, 'method'], 'method applies to http checks only')
    }
    const { method, ...rest } = c
    checks[name] = { ...rest, ...(method === undefined ? {} : { method: method.toUpperCase() as 'GET' | 'HEAD' }) }
  }

  const hostnames = doc.hostnames ?? []
  hostnames.forEach((h, i) => { if (hostnames.indexOf(h) !== i) fail(['hostnames', i], `"${h}" is listed twice`) })

  const spec: AppSpec = {
    app: doc.app,
    primaryRegion: doc.primary_region ?? null,
    env: { ...(doc.env ?? {}) },
    vm: vmOf(doc, fail),
    build: doc.build?.runtime === undefined ? {} : { runtime: doc.build.runtime },
    hostnames: [...hostnames],
    services,
    checks
  }
  const restart = restartOf(doc, fail)
  if (restart !== undefined) spec.restart = restart
  if (doc.failover !== undefined) spec.failover = doc.failover
  return spec
}

/** "256mb", "1gb", "512MiB", "300" or 300 → megabytes. */
export function memoryMb (value: number | string): number {
  if (typeof value === 'number') return value
  const m = /^([0-9]+) ?([mMgG])?/.exec(value)
  const n = Number(m?.[1] ?? NaN)
  return m?.[2]?.toLowerCase() === 'g' ? n * 1024 : n
}

function vmOf (doc: AppConfigDoc, fail: Fail): AppSpec['vm'] {
  if (doc.vm === undefined) return {}
  const [vm, at] = Array.isArray(doc.vm) ? [doc.vm[0], ['vm', 0]] : [doc.vm, ['vm']]
  if (vm === undefined) return {}
  const out: AppSpec['vm'] = {}
  if (vm.cpus !== undefined) out.cpus = vm.cpus
  if (vm.memory !== undefined && vm.memory_mb !== undefined) fail([...at, 'memory_mb'], 'give memory or memory_mb, not both')
  const raw = vm.memory ?? vm.memory_mb
  if (raw !== undefined) {
    const mb = memoryMb(raw)
    const [lo, hi] = [MEMORY_LIMITS.minimum ?? 64, MEMORY_LIMITS.maximum ?? 65536]
    if (mb < lo || mb > hi) fail([...at, vm.memory !== undefined ? 'memory' : 'memory_mb'], `${mb} MB is outside ${lo}–${hi} MB`)
    out.memoryMb = mb
  }
  return out
}

function restartOf (doc: AppConfigDoc, fail: Fail): AppSpec['restart'] {
  if (doc.restart === undefined) return undefined
  const [r, at] = Array.isArray(doc.restart) ? [doc.restart[0], ['restart', 0]] : [doc.restart, ['restart']]
  if (r === undefined) return undefined
  if (r.retries !== undefined && r.max_retries !== undefined) fail([...at, 'retries'], 'give retries or max_retries, not both')
  const retries = r.max_retries ?? r.retries
  return { policy: r.policy === 'never' ? 'no' : r.policy, ...(retries === undefined ? {} : { max_retries: retries }) }
}
