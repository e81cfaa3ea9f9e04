import { randomBytes } from 'node:crypto'
import type { ApiExtension } from '../../../src/api/machines/api-extension.js'
import type { ExecutionContext } from 'ava'
import { assertAllowed } from '../../../actors/machines/lifecycle.js'
import {
  HostUnreachableError, ImageError, MachineNotFoundError, UnknownHostError, WaitTimeoutError
} from '../../../src/errors/errors.js'
import { createMachinesApiServer, type MachinesApiServer } from '../../../src/api/machines/http-server.js'
import { createMachinesClient, type MachinesClient } from '../../../src/api/machines/client.js'
import type { MachineAction, MachineState, MachinesBackend, MachineView } from '../../../src/api/machines/schemas.js'
import { silentLogger } from '../../../src/log/logger.js'

export const APP = 'demo'
export const TOKEN = 'test-token-0123456789'
export const STARTED = 'aaaaaaaaaaaaaa'
export const STOPPED = 'bbbbbbbbbbbbbb'
export const SUSPENDED = 'cccccccccccccc'
/** Every call on this machine fails as if its host were gone. */
export const UNREACHABLE = 'dddddddddddddd'
/** Every call on this machine throws a plain (non-roost) error. */
export const EXPLODING = 'eeeeeeeeeeeeee'

/**
 * Where an allowed action leaves a machine at once (the real one passes through starting,
 * stopping, suspending). Which states each action may start from is the real table's
 * (`actors/machines/lifecycle.ts`), not the fake's own.
 */
const SETTLES_IN: Record<MachineAction, MachineState | undefined> = {
  start: 'started',
  stop: 'stopped',
  suspend: 'suspended',
  restart: 'started',
  cordon: undefined,
  uncordon: undefined
}

function view (id: string, state: MachineState, over: Partial<MachineView> = {}): MachineView {
  const now = new Date().toISOString()
  return {
    id, name: `m-${id.slice(0, 4)}`, app: APP, state, region: 'local', host: '0123456789abcdef0123', instance_id: `i-${id}-1`,
    version: 1, driver: 'process', config: { image: 'hello', services: [{ internal_port: 8080 }], metadata: { role: 'web' } },
    endpoint: state === 'started' ? { host: '127.0.0.1', port: 41000 } : null, cordoned: false, restarts: 0,
    checks: [{ name: 'http', status: 'passing', output: 'ok', updated_at: now }], events: [], created_at: now, updated_at: now,
    ...over
  }
}

export interface FakeBackend extends MachinesBackend {
  machines: Map<string, MachineView>
  /** Sets a machine's state from outside (as if the machine got there by itself). */
  setState: (id: string, state: MachineState) => void
  /** Ends pending waits (so a test's process does not linger on them). */
  close: () => void
}

/** An in-memory MachinesBackend whose transitions follow the real lifecycle table, for API tests. */
export function createFakeBackend (): FakeBackend {
  const machines = new Map<string, MachineView>()
  let closed = false
  for (const [id, state] of [[STARTED, 'started'], [STOPPED, 'stopped'], [SUSPENDED, 'suspended'], [UNREACHABLE, 'started'], [EXPLODING, 'started']] as const) {
    machines.set(id, view(id, state))
  }
  const find = (app: string, id: string): MachineView => {
    if (id === UNREACHABLE) throw new HostUnreachableError(`host of ${id} is unreachable`)
    if (id === EXPLODING) throw new Error('kaboom: a bug in the backend')
    const m = machines.get(id)
    if (m === undefined || m.app !== app) throw new MachineNotFoundError(`no machine ${id} in app ${app}`, { app, id })
    return m
  }
  const put = (m: MachineView, over: Partial<MachineView>): MachineView => {
    const next = { ...m, ...over, updated_at: new Date().toISOString() }
    if (over.state !== undefined) next.endpoint = over.state === 'started' ? { host: '127.0.0.1', port: 41000 } : null
    machines.set(m.id, next)
    return next
  }
  return {
    machines,
    close () { closed = true },
    setState (id, state) { const m = machines.get(id); if (m !== undefined) put(m, { state }) },
    async create (app, req) {
      if (req.config.image === 'missing') throw new ImageError(`unknown image ${req.config.image}`)
      if (req.host === 'nowhere') throw new UnknownHostError('no host nowhere')
      const id = randomBytes(7).toString('hex')
      const m = view(id, req.skip_launch === true ? 'created' : 'started', { app, config: req.config, name: req.name ?? `m-${id.slice(0, 4)}`, region: req.region ?? 'local' })
      machines.set(id, m)
      return m
    },
    async list (app, opts) {
      return [...machines.values()].filter(m => m.app === app && (opts?.includeDestroyed === true || m.state !== 'destroyed'))
    },
    async get (app, id) { return find(app, id) },
    async update (app, id, req) {
      const m = find(app, id)
      assertAllowed(id, m.state, 'update')
      return put(m, { config: req.config, version: m.version + 1, instance_id: `i-${id}-${m.version + 1}`, ...(req.name === undefined ? {} : { name: req.name }) })
    },
    async action (app, id, action) {
      const m = find(app, id)
      assertAllowed(id, m.state, action)
      if (action === 'cordon' || action === 'uncordon') return put(m, { cordoned: action === 'cordon' })
      return put(m, { state: SETTLES_IN[action] ?? m.state, restarts: action === 'restart' ? m.restarts + 1 : m.restarts })
    },
    async wait (app, id, state, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const m = find(app, id)
        if (m.state === state) return m
        if (closed) throw new Error('fake backend closed')
        if (Date.now() >= deadline) throw new WaitTimeoutError(`machine ${id} not ${state} within ${timeoutMs} ms`, { state: m.state })
        await new Promise(resolve => setTimeout(resolve, 10))
      }
    },
    async destroy (app, id, force) {
      const m = find(app, id)
      assertAllowed(id, m.state, force ? 'destroy-force' : 'destroy')
      return put(m, { state: 'destroyed' })
    },
    async setMetadata (app, id, key, value) {
      const m = find(app, id)
      const metadata = { ...m.config.metadata, [key]: value }
      put(m, { config: { ...m.config, metadata } })
      return metadata
    },
    async deleteMetadata (app, id, key) {
      const m = find(app, id)
      const metadata = { ...m.config.metadata }
      delete metadata[key]
      put(m, { config: { ...m.config, metadata } })
      return metadata
    },
    async logs (app, id, maxBytes) {
      find(app, id)
      const text = Array.from({ length: 50 }, (_v, i) => `line ${i}\n`).join('')
      return maxBytes === undefined ? text : text.slice(-maxBytes)
    }
  }
}

export interface ApiFixture {
  server: MachinesApiServer
  backend: FakeBackend
  client: MachinesClient
  url: string
}

/** A server on 127.0.0.1 (any port) over a fake backend, and a client for it; stopped in teardown. */
export async function startApi (t: ExecutionContext, opts: { maxBodyBytes?: number, headersTimeoutMs?: number, requestTimeoutMs?: number, extensions?: ApiExtension[] } = {}): Promise<ApiFixture> {
  const backend = createFakeBackend()
  const { extensions, ...init } = opts
  const server = createMachinesApiServer({ host: '127.0.0.1', port: 0, token: TOKEN, ...init }, { backend, logger: silentLogger(), ...(extensions === undefined ? {} : { extensions }) })
  await server.start()
  t.teardown(async () => { await server.stop(); backend.close() })
  const { host, port } = server.address()
  const url = `http://${host}:${port}`
  return { server, backend, client: createMachinesClient({ url, token: TOKEN }), url }
}
