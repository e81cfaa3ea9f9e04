import type { OperationId } from './routes.js'
import type {
  CreateMachineRequest, MachineAction, MachineState, MachinesBackend, StopRequest, UpdateMachineRequest
} from './schemas.js'

/** A request as a handler sees it: parameters, query and body already validated against the route's schemas. */
export interface RouteContext {
  params: Readonly<Record<string, string>>
  query: Readonly<Record<string, unknown>>
  body: unknown
}

/** Answers one operation: a JSON-able value, or a string for text/plain routes. */
export type RouteHandler = (ctx: RouteContext) => Promise<unknown>

function p (ctx: RouteContext, name: string): string {
  return ctx.params[name] ?? ''
}

function act (backend: MachinesBackend, action: MachineAction): RouteHandler {
  return async ctx => await backend.action(p(ctx, 'app'), p(ctx, 'id'), action, ctx.body as StopRequest | undefined)
}

/** One handler per operation of the route table, in terms of a {@link MachinesBackend}. */
export function createHandlers (backend: MachinesBackend, openapi: () => unknown): Record<OperationId, RouteHandler> {
  return {
    listMachines: async ctx => await backend.list(p(ctx, 'app'), { includeDestroyed: ctx.query.include_deleted === true }),
    createMachine: async ctx => await backend.create(p(ctx, 'app'), ctx.body as CreateMachineRequest),
    getMachine: async ctx => await backend.get(p(ctx, 'app'), p(ctx, 'id')),
    updateMachine: async ctx => await backend.update(p(ctx, 'app'), p(ctx, 'id'), ctx.body as UpdateMachineRequest),
    startMachine: act(backend, 'start'),
    stopMachine: act(backend, 'stop'),
    suspendMachine: act(backend, 'suspend'),
    restartMachine: act(backend, 'restart'),
    cordonMachine: act(backend, 'cordon'),
    uncordonMachine: act(backend, 'uncordon'),
    waitMachine: async ctx => await backend.wait(p(ctx, 'app'), p(ctx, 'id'), ctx.query.state as MachineState,
      (ctx.query.timeout as number) * 1000, ctx.query.instance_id as string | undefined),
    destroyMachine: async ctx => await backend.destroy(p(ctx, 'app'), p(ctx, 'id'), ctx.query.force === true),
    getMetadata: async ctx => (await backend.get(p(ctx, 'app'), p(ctx, 'id'))).config.metadata ?? {},
    setMetadata: async ctx => await backend.setMetadata(p(ctx, 'app'), p(ctx, 'id'), p(ctx, 'key'), (ctx.body as { value: string }).value),
    deleteMetadata: async ctx => await backend.deleteMetadata(p(ctx, 'app'), p(ctx, 'id'), p(ctx, 'key')),
    getLogs: async ctx => await backend.logs(p(ctx, 'app'), p(ctx, 'id'), ctx.query.max_bytes as number | undefined),
    getOpenApi: async () => openapi(),
    health: async () => ({ ok: true })
  }
}
