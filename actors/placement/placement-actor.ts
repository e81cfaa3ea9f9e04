import type { MachineView } from '../../src/api/machines/schemas.js'
import { ActorNotFoundError, HostUnreachableError } from '../../src/errors/errors.js'
import { currentMachineRows, machineIdOf } from '../../src/placement/machine-rows.js'
import { hostViews } from '../../src/placement/host-view.js'
import { needOf } from '../../src/placement/capacity.js'
import { NoCapacityError, PlacementError } from '../../src/placement/errors.js'
import { planPlacement, type PlacementHost } from '../../src/placement/plan.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { systemClock, type Clock } from '../../src/runtime/clock.js'
import type { EventRecorder } from '../../src/events/event-kinds.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { MembershipProtocol } from '../membership/messages.js'
import { placementProtocol, type PlacementProtocol } from './messages.js'

export interface PlacementActorInit {
  /** How long a placement this host made counts for spread before its row arrives by gossip. */
  pendingMs?: number
  /** How long one host may take to create (and start) a machine. */
  createTimeoutMs?: number
}

export interface PlacementActorComponents {
  clock?: Clock
  /** This host's event stream: each placement it decides (and each it could not make) goes in. */
  events: EventRecorder
}

const PENDING_MS = 30_000
const CREATE_TIMEOUT_MS = 30_000

/**
 * Errors after which another host may safely be asked: the machine was not created (the host
 * refused, or the message never reached an actor). A timeout is not one of them — the machine
 * may exist — so it ends the placement.
 */
function refusedBeforeCreating (err: unknown): boolean {
  return err instanceof NoCapacityError || err instanceof HostUnreachableError || err instanceof ActorNotFoundError
}

/**
 * `/agent/placement`: chooses the host of a new machine from the local replica (no central
 * scheduler: any host can place) and asks that host's `/agent/machines` to create it; the host
 * checks its own room, so placers racing on stale rows cannot overbook it. Placements in flight
 * count for spread until their rows arrive. Crash policy: restart (it holds nothing durable).
 */
export function placementActor (init: PlacementActorInit, components: PlacementActorComponents): ActorDefinition<PlacementProtocol> {
  const clock = components.clock ?? systemClock
  const pendingMs = init.pendingMs ?? PENDING_MS
  const createTimeoutMs = init.createTimeoutMs ?? CREATE_TIMEOUT_MS
  return defineActor({
    protocol: placementProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const membership = ref<MembershipProtocol>(ctx.system.hostId, '/agent/membership')
      const pending = new Map<string, { app: string, host: string, at: number }>()

      /** Host names as gossip last told them, for the events people read. */
      const names = new Map<string, string>()
      const nameOf = (host: string): string => names.get(host) ?? host.slice(0, 12)

      const view = async (app: string): Promise<{ hosts: PlacementHost[], existing: string[] }> => {
        const [{ members }, hostRows, machineRows] = await Promise.all([
          ctx.system.ask(membership, { type: 'membership.list' }),
          ctx.system.ask(membership, { type: 'membership.state', table: 'hosts' }),
          ctx.system.ask(membership, { type: 'membership.state', table: 'machines' })
        ])
        for (const m of members) if (m.name !== '') names.set(m.hostId, m.name)
        // A host gossip has not met yet gets nothing.
        const hosts: PlacementHost[] = hostViews(hostRows.rows, members, ctx.system.hostId, 'dead')
        const now = clock.now()
        const rowIds = new Set<string>()
        const existing: string[] = []
        for (const r of currentMachineRows(machineRows.rows)) {
          if (r.data === null || (r.data as { app?: unknown }).app !== app) continue
          const st = (r.data as { state?: unknown }).state
          if (st === 'destroyed' || st === 'destroying') continue
          rowIds.add(machineIdOf(r))
          existing.push(r.owner)
        }
        for (const [id, p] of pending) {
          if (rowIds.has(id) || now - p.at > pendingMs) pending.delete(id)
          else if (p.app === app) existing.push(p.host)
        }
        return { hosts, existing }
      }

      return {
        handlers: {
          'placement.place': async (msg) => {
            const { hosts, existing } = await view(msg.app)
            const regions = msg.regions ?? []
            const need = needOf(msg.config.guest)
            const [slot] = planPlacement(hosts, { app: msg.app, count: 1, need, regions, existing, prefer: ctx.system.hostId })
            const candidates = slot?.candidates ?? []
            const refusals: Array<{ host: string, code: string, message: string }> = []
            for (const host of candidates) {
              try {
                const machine = await ctx.system.askUntyped(host, '/agent/machines', 'machines.create', {
                  app: msg.app,
                  config: msg.config,
                  ...(msg.name === undefined ? {} : { name: msg.name }),
                  ...(msg.skipLaunch === undefined ? {} : { skipLaunch: msg.skipLaunch })
                }, { timeoutMs: createTimeoutMs }) as MachineView
                pending.set(machine.id, { app: msg.app, host, at: clock.now() })
                ctx.log.info({ app: msg.app, machine: machine.id, host, refusals: refusals.length }, 'machine placed')
                const after = refusals.length === 0 ? '' : ` after ${refusals.length} refusal(s): ${refusals.map(r => `${nameOf(r.host)} ${r.code}`).join(', ')}`
                components.events.record('placement', `placed machine ${machine.id} of ${msg.app} on ${nameOf(host)}${after}`, {
                  app: msg.app, machine: machine.id, host, hostName: names.get(host) ?? '', regions, refusals
                })
                return { machine, refusals }
              } catch (err) {
                if (!refusedBeforeCreating(err)) throw err
                const e = err as Error & { code?: string }
                refusals.push({ host, code: e.code ?? 'ERR_UNKNOWN', message: e.message })
                ctx.log.info({ app: msg.app, host, code: e.code }, 'host refused the machine; trying the next')
              }
            }
            const where = regions.length > 0 ? ` in ${regions.join(', ')}` : ''
            const why = candidates.length === 0
              ? `no alive, undrained host${where} has room for ${need.cpus} vCPU / ${need.memoryMb} MiB (${hosts.length} hosts known)`
              : `every candidate${where} refused: ${refusals.map(r => `${r.host.slice(0, 8)} ${r.code}`).join(', ')}`
            components.events.record('placement', `could not place a machine of ${msg.app}: ${why}`, { app: msg.app, regions, refusals, placed: false })
            throw new PlacementError(`cannot place a machine of ${msg.app}: ${why}`, { app: msg.app, regions, refusals: refusals.length })
          }
        }
      }
    }
  })
}
