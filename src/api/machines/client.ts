import { AgentUnavailableError, InvalidArgumentError } from '../../errors/errors.js'
import { errorFromWire, type RoostError } from '../../errors/roost-error.js'
import { BadResponseError, RequestTimeoutError } from './errors.js'
import { fillPath, ROUTES, type OperationId, type RouteSpec } from './routes.js'
import type { MachineAction, MachinesBackend, MachineView } from './schemas.js'

const DEFAULT_TIMEOUT_MS = 30_000
/** Extra time a wait request gets over its own server-side timeout. */
const WAIT_SLACK_MS = 10_000

export interface MachinesClientInit {
  /** Base URL of the API, e.g. http://127.0.0.1:4280 */
  url: string
  token: string
  /** Per-request timeout (default 30 s; a wait gets its own timeout plus 10 s). */
  timeoutMs?: number
}

/** A Machines API client: the {@link MachinesBackend} methods over HTTP, plus the API's own routes. */
export interface MachinesClient extends MachinesBackend {
  getMetadata: (app: string, id: string) => Promise<Record<string, string>>
  health: () => Promise<{ ok: true }>
  openapi: () => Promise<Record<string, unknown>>
}

interface CallOptions {
  params?: Record<string, string>
  query?: Record<string, string | number | boolean | undefined>
  body?: unknown
  timeoutMs?: number
}

const routeByOp = new Map<OperationId, RouteSpec>(ROUTES.map(r => [r.op, r]))

function failure (status: number, text: string, where: string): RoostError {
  try {
    const body = JSON.parse(text) as { error?: unknown, code?: unknown, details?: unknown }
    if (typeof body.code === 'string' && typeof body.error === 'string') {
      const details = typeof body.details === 'object' && body.details !== null ? body.details as Record<string, unknown> : undefined
      return errorFromWire(details === undefined ? { code: body.code, message: body.error } : { code: body.code, message: body.error, details })
    }
  } catch {}
  return new BadResponseError(`HTTP ${status} from ${where}: ${text.slice(0, 200)}`, { status })
}

/** A client of the Machines API over global fetch; error answers become the roost error of their code. */
export function createMachinesClient (init: MachinesClientInit): MachinesClient {
  let base: URL
  try {
    base = new URL(init.url)
  } catch {
    throw new InvalidArgumentError(`not a URL: '${init.url}'`)
  }
  const prefix = base.pathname.replace(/\/+$/, '')
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS

  const call = async <T>(op: OperationId, opts: CallOptions = {}): Promise<T> => {
    const route = routeByOp.get(op)
    if (route === undefined) throw new Error(`no route ${op}`)
    const url = new URL(base)
    url.pathname = prefix + fillPath(route.path, opts.params ?? {})
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v))
    const headers: Record<string, string> = { authorization: `Bearer ${init.token}`, accept: 'application/json' }
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const where = `${route.method} ${url.pathname}`
    let res: Response
    try {
      res = await fetch(url, {
        method: route.method,
        headers,
        ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? timeoutMs)
      })
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new RequestTimeoutError(`no answer from the Machines API to ${where} within ${opts.timeoutMs ?? timeoutMs} ms`)
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      throw new AgentUnavailableError(`cannot reach the Machines API at ${base.origin} (${cause?.code ?? cause?.message ?? (err as Error).message})`, { url: base.href })
    }
    const text = await res.text().catch((err: Error) => { throw new BadResponseError(`reading the answer to ${where}: ${err.message}`) })
    if (!res.ok) throw failure(res.status, text, where)
    if (route.response === 'text') return text as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new BadResponseError(`answer to ${where} is not JSON: ${text.slice(0, 200)}`, { status: res.status })
    }
  }

  const machine = (app: string, id: string): Record<string, string> => ({ app, id })
  const ACTION_OPS: Record<MachineAction, OperationId> = {
    start: 'startMachine', stop: 'stopMachine', suspend: 'suspendMachine', restart: 'restartMachine', cordon: 'cordonMachine', uncordon: 'uncordonMachine'
  }

  return {
    create: async (app, req) => await call<MachineView>('createMachine', { params: { app }, body: req }),
    list: async (app, opts) => await call<MachineView[]>('listMachines', { params: { app }, query: { include_deleted: opts?.includeDestroyed === true ? true : undefined } }),
    get: async (app, id) => await call<MachineView>('getMachine', { params: machine(app, id) }),
    update: async (app, id, req) => await call<MachineView>('updateMachine', { params: machine(app, id), body: req }),
    action: async (app, id, action, opts) => await call<MachineView>(ACTION_OPS[action], {
      params: machine(app, id),
      body: action === 'stop' && opts !== undefined ? opts : undefined
    }),
    wait: async (app, id, state, waitMs, instanceId) => {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000))
      return await call<MachineView>('waitMachine', {
        params: machine(app, id),
        query: { state, timeout: seconds, instance_id: instanceId },
        timeoutMs: Math.max(timeoutMs, seconds * 1000 + WAIT_SLACK_MS)
      })
    },
    destroy: async (app, id, force) => await call<MachineView>('destroyMachine', { params: machine(app, id), query: { force: force ? true : undefined } }),
    getMetadata: async (app, id) => await call<Record<string, string>>('getMetadata', { params: machine(app, id) }),
    setMetadata: async (app, id, key, value) => await call<Record<string, string>>('setMetadata', { params: { app, id, key }, body: { value } }),
    deleteMetadata: async (app, id, key) => await call<Record<string, string>>('deleteMetadata', { params: { app, id, key } }),
    logs: async (app, id, maxBytes) => await call<string>('getLogs', { params: machine(app, id), query: { max_bytes: maxBytes } }),
    health: async () => await call<{ ok: true }>('health'),
    openapi: async () => await call<Record<string, unknown>>('getOpenApi')
  }
}
