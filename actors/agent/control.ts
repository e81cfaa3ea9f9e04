import type { ControlApi, MemberView, MeshView, RowView } from '../../src/api/control-api.js'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import type { Milestones } from '../../src/log/milestones.js'
import type { ActorSystem } from '../../src/runtime/system.js'
import { parseTarget, ref } from '../../src/runtime/ref.js'
import { resolveHost } from '../../src/transport/resolve-host.js'
import type { Transport } from '../../src/transport/transport.js'
import { knownMembers } from '../membership/known-members.js'
import type { MembershipProtocol } from '../membership/messages.js'
import type { WireguardProtocol } from '../wireguard/messages.js'
import type { AgentProtocol } from './messages.js'

export interface ControlApiComponents {
  system: ActorSystem
  transport: Transport
  /** The path messages to a host take now (the mesh transport's). */
  pathTo?: (host: string) => string
  name: string
  /** The agent's start milestones (`timeline`). */
  milestones: Pick<Milestones, 'list'>
  shutdown: () => Promise<void>
}

/** The control API of one agent, in terms of its actors. */
export function createControlApi (components: ControlApiComponents): ControlApi {
  const { system, transport } = components
  return {
    async info () {
      return await system.ask(ref<AgentProtocol>(system.hostId, '/agent'), { type: 'agent.info' }) as unknown as Record<string, unknown>
    },
    async members () {
      const { members } = await system.ask(ref<MembershipProtocol>(system.hostId, '/agent/membership'), { type: 'membership.list' })
      return members.map(m => ({ ...m, path: m.self ? 'self' : (components.pathTo?.(m.hostId) ?? transport.kind) })) satisfies MemberView[]
    },
    async mesh () {
      const status = await system.ask(ref<WireguardProtocol>(system.hostId, '/agent/wireguard'), { type: 'wireguard.status' })
      const { members } = await system.ask(ref<MembershipProtocol>(system.hostId, '/agent/membership'), { type: 'membership.list' })
      const names = new Map(members.map(m => [m.hostId, m.name]))
      return { ...status, peers: status.peers.map(p => ({ ...p, name: names.get(p.hostId) ?? '' })) } satisfies MeshView
    },
    async timeline () {
      return components.milestones.list()
    },
    async state (table, opts) {
      const { rows } = await system.askUntyped(system.hostId, '/agent/membership', 'membership.state', { table, ...(opts?.includeDeleted === true ? { includeDeleted: true } : {}) }) as { rows: RowView[] }
      return rows.map(r => ({ table: r.table, key: r.key, owner: r.owner, version: r.version, deleted: r.deleted, ownerDead: r.ownerDead, data: r.data }))
    },
    async send (target, message, opts) {
      const { host, path } = parseTarget(target)
      if (message === null || typeof message !== 'object' || Array.isArray(message)) {
        throw new InvalidArgumentError('message must be a JSON object with a "type"')
      }
      const { type, ...body } = message as { type?: unknown }
      if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError('message must have a string "type"')
      const hostId = resolveHost(host, system.hostId, components.name, transport, await knownMembers(system))
      const started = performance.now()
      const reply = await system.askUntyped(hostId, path, type, body, { timeoutMs: opts?.timeoutMs ?? 5_000, from: '/control' })
      return { host: hostId, path, type, reply, elapsedMs: performance.now() - started }
    },
    async shutdown () {
      setImmediate(() => { components.shutdown().catch(() => {}) })
    }
  }
}
