import type { MachineState, MachineView, MachinesBackend } from '../../src/api/machines/schemas.js'
import { ActorNotFoundError, HostUnreachableError, MachineNotFoundError, WaitTimeoutError } from '../../src/errors/errors.js'
import type { ActorSystem } from '../../src/runtime/system.js'
import { ref } from '../../src/runtime/ref.js'
import { currentMachineRows, machineIdOf } from '../../src/placement/machine-rows.js'
import { resolveHost } from '../../src/transport/resolve-host.js'
import type { Transport } from '../../src/transport/transport.js'
import { knownMembers } from '../membership/known-members.js'
import type { MembershipProtocol } from '../membership/messages.js'
import type { MachineProtocol } from './messages.js'
import { viewFromRow } from './record.js'

export interface MachinesBackendComponents {
  system: ActorSystem
  transport: Transport
  /** This host's name (for `host` in create requests). */
  name: string
}

const ASK_MS = 10_000
/** A placement may ask several hosts in turn, each up to its create timeout. */
const PLACE_ASK_MS = 95_000
const LIST_ASK_MS = 3_000
const WAIT_POLL_MS = 50

interface MachineRowData { id?: unknown, app?: unknown, host?: unknown }

/**
 * The Machines API in terms of actors: a machine is found on this host or, through the
 * gossiped `machines` table, on the host that runs it, and every call is an actor message to
 * `/agent/machines/<id>` there. Listing asks every host that holds machines of the app; hosts
 * that do not answer contribute their machines' last gossiped state.
 */
export function createMachinesBackend (components: MachinesBackendComponents): MachinesBackend {
  const { system } = components
  const self = system.hostId
  const membership = ref<MembershipProtocol>(self, '/agent/membership')

  const rows = async (): Promise<Array<{ key: string, owner: string, ownerDead: boolean, data: MachineRowData & Record<string, unknown> }>> => {
    const { rows } = await system.ask(membership, { type: 'membership.state', table: 'machines' })
    return currentMachineRows(rows).map(r => ({ key: machineIdOf(r), owner: r.owner, ownerDead: r.ownerDead, data: r.data as MachineRowData & Record<string, unknown> }))
  }
  const knownHost = new Map<string, string>()
  const remember = (m: MachineView): MachineView => {
    if (knownHost.size > 10_000) knownHost.clear()
    knownHost.set(m.id, m.host)
    return m
  }
  const members = async (): Promise<string[]> => {
    const { members } = await system.ask(membership, { type: 'membership.list' })
    return members.filter(m => !m.self && m.state === 'alive').map(m => m.hostId)
  }
  /** Gossip may not have brought a just-created machine's row yet: ask every live host. */
  const search = async (id: string): Promise<string | undefined> => {
    const hosts = await members()
    const found = await Promise.all(hosts.map(async host => {
      try {
        await system.askUntyped(host, `/agent/machines/${id}`, 'machine.get', { app: 'probe' }, { timeoutMs: LIST_ASK_MS })
        return host
      } catch (err) {
        return err instanceof MachineNotFoundError ? host : undefined
      }
    }))
    return found.find(h => h !== undefined)
  }
  /** Where the machine runs: this host, the host it was last found on, else its current row (or a search). */
  const hostOf = async (id: string, cached = true): Promise<string> => {
    if (system.has(`/agent/machines/${id}`)) return self
    const known = cached ? knownHost.get(id) : undefined
    if (known !== undefined) return known
    const row = (await rows()).find(r => r.key === id)
    if (row !== undefined) return row.owner
    const host = await search(id)
    if (host === undefined) throw new MachineNotFoundError(`no machine ${id}`, { id })
    return host
  }
  const askMachine = async <K extends keyof MachineProtocol & string>(id: string, msg: { type: K } & Record<string, unknown>, timeoutMs = ASK_MS): Promise<unknown> => {
    const { type, ...body } = msg
    const ask = async (host: string): Promise<unknown> => {
      try {
        return await system.askUntyped(host, `/agent/machines/${id}`, type, body, { timeoutMs })
      } catch (err) {
        if (err instanceof ActorNotFoundError) throw new MachineNotFoundError(`no machine ${id}`, { id })
        throw err
      }
    }
    const host = await hostOf(id)
    try {
      return await ask(host)
    } catch (err) {
      // The host it was last found on is gone, or no longer has it (failover or an evacuation
      // moved it): the replica's current generation says where it is now.
      if (host !== knownHost.get(id) || !(err instanceof HostUnreachableError || err instanceof MachineNotFoundError)) throw err
      knownHost.delete(id)
      const now = await hostOf(id, false)
      if (now === host) throw err
      return await ask(now)
    }
  }
  const view = async (id: string, msg: { type: keyof MachineProtocol & string } & Record<string, unknown>): Promise<MachineView> => remember(await askMachine(id, msg) as MachineView)

  return {
    async create (app, req) {
      if (req.host === undefined) {
        const { machine } = await system.askUntyped(self, '/agent/placement', 'placement.place', {
          app,
          config: req.config,
          ...(req.region === undefined ? {} : { regions: [req.region] }),
          ...(req.name === undefined ? {} : { name: req.name }),
          ...(req.skip_launch === undefined ? {} : { skipLaunch: req.skip_launch })
        }, { timeoutMs: PLACE_ASK_MS }) as { machine: MachineView }
        return remember(machine)
      }
      const host = resolveHost(req.host, self, components.name, components.transport, await knownMembers(system))
      return remember(await system.askUntyped(host, '/agent/machines', 'machines.create', {
        app,
        config: req.config,
        ...(req.name === undefined ? {} : { name: req.name }),
        ...(req.region === undefined ? {} : { region: req.region }),
        ...(req.skip_launch === undefined ? {} : { skipLaunch: req.skip_launch })
      }, { timeoutMs: 30_000 }) as MachineView)
    },
    async list (app) {
      const appRows = (await rows()).filter(r => r.data.app === app)
      const hosts = new Set<string>([self, ...appRows.map(r => r.owner)])
      const answered = new Set<string>()
      const lists = await Promise.all([...hosts].map(async host => {
        try {
          const { machines } = await system.askUntyped(host, '/agent/machines', 'machines.list', { app }, { timeoutMs: LIST_ASK_MS }) as { machines: MachineView[] }
          answered.add(host)
          return machines
        } catch {
          return []
        }
      }))
      const out = lists.flat()
      const seen = new Set(out.map(m => m.id))
      for (const r of appRows) {
        if (!answered.has(r.owner) && !seen.has(r.key)) out.push(viewFromRow(r.data, r.ownerDead))
      }
      return out.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id))
    },
    get: async (app, id) => await view(id, { type: 'machine.get', app }),
    update: async (app, id, req) => await view(id, {
      type: 'machine.update',
      app,
      config: req.config,
      ...(req.name === undefined ? {} : { name: req.name }),
      ...(req.skip_launch === undefined ? {} : { skipLaunch: req.skip_launch })
    }),
    async action (app, id, action, opts) {
      switch (action) {
        case 'start': return await view(id, { type: 'machine.start', app })
        case 'stop': return await view(id, { type: 'machine.stop', app, ...(opts ?? {}) })
        case 'suspend': return await view(id, { type: 'machine.suspend', app })
        case 'restart': return await view(id, { type: 'machine.restart', app })
        case 'cordon': return await view(id, { type: 'machine.cordon', app, cordoned: true })
        case 'uncordon': return await view(id, { type: 'machine.cordon', app, cordoned: false })
      }
    },
    async wait (app, id, state: MachineState, timeoutMs, instanceId) {
      const deadline = Date.now() + timeoutMs
      let last: MachineView | undefined
      for (;;) {
        try {
          last = await view(id, { type: 'machine.get', app })
        } catch (err) {
          if (state === 'destroyed' && err instanceof MachineNotFoundError) return { ...(last as MachineView), state: 'destroyed' }
          throw err
        }
        if (last.state === state && (instanceId === undefined || last.instance_id === instanceId)) return last
        if (Date.now() >= deadline) throw new WaitTimeoutError(`machine ${id} is ${last.state}, not ${state}, after ${timeoutMs} ms`, { id, state: last.state, wanted: state })
        await new Promise(resolve => setTimeout(resolve, Math.min(WAIT_POLL_MS, Math.max(1, deadline - Date.now()))))
      }
    },
    destroy: async (app, id, force) => await view(id, { type: 'machine.destroy', app, force }),
    async setMetadata (app, id, key, value) {
      return (await askMachine(id, { type: 'machine.metadata', app, key, value }) as { metadata: Record<string, string> }).metadata
    },
    async deleteMetadata (app, id, key) {
      return (await askMachine(id, { type: 'machine.metadata', app, key, value: null }) as { metadata: Record<string, string> }).metadata
    },
    async logs (app, id, maxBytes) {
      return (await askMachine(id, { type: 'machine.logs', app, ...(maxBytes === undefined ? {} : { maxBytes }) }) as { text: string }).text
    }
  }
}

