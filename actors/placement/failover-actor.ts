import type { MachineView } from '../../src/api/machines/schemas.js'
import { createFence, type FenceStage } from '../../src/placement/fence.js'
import { planFailover, seesMajority, type FailoverHost } from '../../src/placement/failover-plan.js'
import { hostViews } from '../../src/placement/host-view.js'
import { needOf } from '../../src/placement/capacity.js'
import { PlacementError } from '../../src/placement/errors.js'
import { currentMachineRows, generationOf, machineIdOf, type MachineRowLike } from '../../src/placement/machine-rows.js'
import { planPlacement } from '../../src/placement/plan.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { systemClock, type Clock } from '../../src/runtime/clock.js'
import type { EventRecorder } from '../../src/events/event-kinds.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { MachineConfig } from '../../src/api/machines/schemas.js'
import type { MachineProtocol, MachinesProtocol } from '../machines/messages.js'
import type { MembershipProtocol } from '../membership/messages.js'
import { failoverProtocol, type FailoverProtocol } from './failover-messages.js'

export interface FailoverActorInit {
  /** This host's region: the one whose majority it must see to keep serving. */
  region: string
  /** How often the replica is read (ms). */
  tickMs?: number
  /** The k-th host in a machine's rendezvous order acts k steps after the first could have. */
  stepMs?: number
  /** This host's view of the region must have been still this long before it replaces anything… */
  stableMs?: number
  /** …and at least a probe round of the region (its hosts × this gossip probe interval). */
  probeIntervalMs?: number
  /** Once it sees its region's majority again, hosts it saw die meanwhile have this long to reappear. */
  rejoinMs?: number
  /** Without its region's majority this long, the host stops routing to its replaceable machines… */
  leaseMs?: number
  /** …and this long, it stops them. */
  graceMs?: number
}

export interface FailoverActorComponents {
  clock?: Clock
  /** This host's event stream: replacements, evacuations, stale copies destroyed, fence changes. */
  events: EventRecorder
}

const TICK_MS = 250
const STEP_MS = 3_000
/** Longer than a probe round of a small region (lan: 100 ms per member), so a cut-off host has seen its other peers fall too. */
const STABLE_MS = 600
const LEASE_MS = 1_500
const GRACE_MS = 5_000
/** Two redials of a host out of reach: the transport's connect timeout (5 s) and SWIM's reconnect interval (1 s), twice. */
const REJOIN_MS = 12_000
const RETRY_MS = 15_000
const ASK_MS = 30_000
/** How long an evacuated machine's new copy may take to be started and passing its checks. */
const EVACUATE_HEALTHY_MS = 120_000
const EVACUATE_POLL_MS = 200
const FENCE_SAYS: Record<FenceStage, string> = {
  serving: 'this host sees its region\'s majority again and serves its machines',
  unroutable: 'this host lost sight of its region\'s majority; its replaceable machines take no new traffic',
  stopped: 'this host has not seen its region\'s majority for the grace period; its replaceable machines are stopped'
}

/**
 * `/agent/failover`: re-creates the replaceable machines of hosts that membership declared dead
 * (same id, next generation; the survivors agree on who acts by rendezvous hashing, and only
 * where they see their region's majority), destroys this host's copies that a newer generation
 * superseded (it came back after being replaced), and fences this host when it loses sight of
 * its region's majority (cordon, then stop its replaceable machines; undone when the majority is
 * seen again). Everything is decided from the local replica on a tick. Crash policy: restart.
 */
export function failoverActor (init: FailoverActorInit, components: FailoverActorComponents): ActorDefinition<FailoverProtocol> {
  const clock = components.clock ?? systemClock
  const { events } = components
  const tickMs = init.tickMs ?? TICK_MS
  const stepMs = init.stepMs ?? STEP_MS
  const stableMs = init.stableMs ?? STABLE_MS
  return defineActor({
    protocol: failoverProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const self = ctx.system.hostId
      const membership = ref<MembershipProtocol>(self, '/agent/membership')
      const machines = ref<MachinesProtocol>(self, '/agent/machines')
      const fence = createFence({ leaseMs: init.leaseMs ?? LEASE_MS, graceMs: init.graceMs ?? GRACE_MS })
      const attempted = new Map<string, number>()
      const destroying = new Map<string, number>()
      /** Machines the fence cordoned (and maybe stopped), with whether it stopped them. */
      const fenced = new Map<string, { app: string, stopped: boolean }>()
      let lastStage: FenceStage = 'serving'
      let replaced = 0
      let evacuated = 0
      let evacuating: string | null = null
      let draining = false
      const evacuationFailed = new Map<string, number>()
      /** Per region, since when this host has seen its majority without a break. */
      const majoritySince = new Map<string, number>()

      /** Host names as gossip last told them, for the events people read. */
      const names = new Map<string, string>()
      const nameOf = (host: string): string => names.get(host) ?? host.slice(0, 12)
      const machine = (id: string) => ref<MachineProtocol>(self, `/agent/machines/${id}`)
      const quietly = (what: string, id: string) => (err: unknown): void => { ctx.log.warn({ err, machine: id }, `${what} failed`) }

      const evacuate = async (data: Record<string, unknown>, hosts: FailoverHost[], rows: readonly MachineRowLike[]): Promise<void> => {
        const id = String(data.id)
        const app = String(data.app)
        const config = data.config as MachineConfig
        const region = typeof data.region === 'string' ? data.region : init.region
        const existing = currentMachineRows(rows).filter(r => r.data?.app === app).map(r => r.owner)
        const [slot] = planPlacement(hosts, { app, count: 1, need: needOf(config.guest), regions: [region], existing })
        const target = slot?.candidates[0]
        if (target === undefined) throw new PlacementError(`no alive, undrained host in ${region} has room for machine ${id}`, { id, region })
        const generation = generationOf(data) + 1
        const running = data.state === 'started' || data.state === 'starting'
        ctx.log.info({ machine: id, app, to: target, generation }, 'evacuating a machine of this draining host')
        events.record('failover', `evacuating machine ${id} of ${app} to ${nameOf(target)} (this host is draining; generation ${generation})`, { action: 'evacuate', machine: id, app, to: target, generation })
        await ctx.system.askUntyped(target, '/agent/machines', 'machines.replace', {
          app, id, name: String(data.name ?? id), region, generation, createdAt: typeof data.createdAt === 'number' ? data.createdAt : clock.now(), config, skipLaunch: !running
        }, { timeoutMs: ASK_MS })
        if (running) {
          const deadline = clock.now() + EVACUATE_HEALTHY_MS
          for (;;) {
            const v = await ctx.system.askUntyped(target, `/agent/machines/${id}`, 'machine.get', { app }, { timeoutMs: ASK_MS }) as MachineView
            if (v.state === 'started' && v.checks.every(c => c.status === 'passing')) break
            if (clock.now() > deadline) throw new PlacementError(`the new copy of ${id} on ${target.slice(0, 8)} is ${v.state}, not started and passing, after ${EVACUATE_HEALTHY_MS} ms`, { id })
            await new Promise<void>(resolve => { clock.setTimeout(resolve, EVACUATE_POLL_MS) })
          }
        }
        await ctx.system.ask(machine(id), { type: 'machine.destroy', app, force: true }, { timeoutMs: ASK_MS })
        ctx.log.info({ machine: id, app, to: target, generation }, 'machine evacuated')
        events.record('failover', `machine ${id} of ${app} evacuated to ${nameOf(target)}`, { action: 'evacuated', machine: id, app, to: target, generation })
      }

      const tick = async (): Promise<void> => {
        const now = clock.now()
        const [{ members }, hostRows, machineRows] = await Promise.all([
          ctx.system.ask(membership, { type: 'membership.list' }),
          ctx.system.ask(membership, { type: 'membership.state', table: 'hosts' }),
          ctx.system.ask(membership, { type: 'membership.state', table: 'machines' })
        ])
        for (const m of members) if (m.name !== '') names.set(m.hostId, m.name)
        // A host gossip has not met yet counts as alive toward the majority (unless its rows say dead).
        const hosts = hostViews(hostRows.rows, members, self, 'alive')
        for (const region of new Set(hosts.map(h => h.region))) {
          if (!seesMajority(hosts, region)) majoritySince.delete(region)
          else if (!majoritySince.has(region)) majoritySince.set(region, now)
        }
        const plan = planFailover({ self, stepMs, stableMs, probeIntervalMs: init.probeIntervalMs ?? 0, majoritySince, rejoinMs: init.rejoinMs ?? REJOIN_MS }, hosts, machineRows.rows)
        draining = hosts.find(h => h.id === self)?.draining === true
        if (draining && evacuating === null) {
          const next = currentMachineRows(machineRows.rows).find(r => {
            const st = r.data?.state
            const failedAt = evacuationFailed.get(machineIdOf(r))
            return r.owner === self && st !== 'destroyed' && st !== 'destroying' && (failedAt === undefined || now - failedAt >= RETRY_MS)
          })
          if (next !== undefined) {
            const id = machineIdOf(next)
            evacuating = id
            evacuate(next.data as Record<string, unknown>, hosts, machineRows.rows)
              .then(() => { evacuated++ }, (err: unknown) => {
                evacuationFailed.set(id, clock.now())
                ctx.log.warn({ err, machine: id }, 'evacuation failed; will try again')
                events.record('failover', `evacuation of machine ${id} failed; will try again: ${(err as Error).message}`, { action: 'evacuate-failed', machine: id, error: (err as Error).message })
              })
              .finally(() => { evacuating = null })
          }
        }

        for (const r of plan.replacements) {
          if (r.dueAt > now) continue
          const last = attempted.get(`${r.id}:${r.generation}`)
          if (last !== undefined && now - last < RETRY_MS) continue
          attempted.set(`${r.id}:${r.generation}`, now)
          ctx.log.info({ machine: r.id, app: r.app, generation: r.generation, from: r.from }, 'replacing a machine of a dead host')
          events.record('failover', `replacing machine ${r.id} of ${r.app} here: its host ${nameOf(r.from)} is dead (generation ${r.generation})`, { action: 'replace', machine: r.id, app: r.app, from: r.from, generation: r.generation })
          ctx.system.ask(machines, { type: 'machines.replace', app: r.app, id: r.id, name: r.name, region: r.region, generation: r.generation, createdAt: now, config: r.config as MachineConfig }, { timeoutMs: ASK_MS })
            .then((v: MachineView) => { replaced++; ctx.log.info({ machine: v.id, generation: r.generation, state: v.state }, 'machine re-created') }, (err: unknown) => {
              quietly('replace', r.id)(err)
              events.record('failover', `replacing machine ${r.id} of ${r.app} failed: ${(err as Error).message}`, { action: 'replace-failed', machine: r.id, app: r.app, generation: r.generation, error: (err as Error).message })
            })
        }
        for (const s of plan.stale) {
          if (s.id === evacuating) continue
          const last = destroying.get(s.id)
          if (last !== undefined && now - last < RETRY_MS) continue
          destroying.set(s.id, now)
          fenced.delete(s.id)
          const row = machineRows.rows.find(x => x.owner === self && machineIdOf(x) === s.id && x.data !== null)
          const app = typeof row?.data?.app === 'string' ? row.data.app : ''
          ctx.log.warn({ machine: s.id, generation: s.generation, newer: s.newerGeneration, owner: s.newerOwner }, 'a newer copy of this machine runs elsewhere; destroying the stale one here')
          events.record('failover', `destroying the stale copy of machine ${s.id} here: generation ${s.newerGeneration} runs on ${nameOf(s.newerOwner)}`, { action: 'destroy-stale', machine: s.id, app, generation: s.generation, newerGeneration: s.newerGeneration, newerOwner: s.newerOwner })
          ctx.system.ask(machine(s.id), { type: 'machine.destroy', app, force: true }, { timeoutMs: ASK_MS }).catch(quietly('destroy of a stale copy', s.id))
        }

        const stage = fence.update(now, seesMajority(hosts, init.region))
        if (stage !== lastStage) {
          ctx.log.warn({ from: lastStage, to: stage, lostSince: fence.lostSince }, `fence: ${stage}`)
          events.record('failover', `fence: ${FENCE_SAYS[stage]}`, { action: 'fence', from: lastStage, to: stage })
        }
        const staleIds = new Set(plan.stale.map(s => s.id))
        const mine = currentMachineRows(machineRows.rows).filter(r => r.owner === self && r.data !== null && r.data.failover === 'replace' && !staleIds.has(machineIdOf(r)))
        if (stage !== 'serving') {
          for (const r of mine) {
            const id = machineIdOf(r)
            const app = String(r.data?.app ?? '')
            const state = r.data?.state
            let f = fenced.get(id)
            if (f === undefined) {
              if (state !== 'started' && state !== 'starting') continue
              f = { app, stopped: false }
              fenced.set(id, f)
              ctx.system.ask(machine(id), { type: 'machine.cordon', app, cordoned: true }, { timeoutMs: ASK_MS }).catch(quietly('fence cordon', id))
            }
            if (stage === 'stopped' && !f.stopped) {
              f.stopped = true
              ctx.system.ask(machine(id), { type: 'machine.stop', app }, { timeoutMs: ASK_MS }).catch(quietly('fence stop', id))
            }
          }
        } else if (fenced.size > 0) {
          for (const [id, f] of fenced) {
            fenced.delete(id)
            if (staleIds.has(id)) continue
            ctx.system.ask(machine(id), { type: 'machine.cordon', app: f.app, cordoned: false }, { timeoutMs: ASK_MS })
              .then(async () => { if (f.stopped) await ctx.system.ask(machine(id), { type: 'machine.start', app: f.app }, { timeoutMs: ASK_MS }) })
              .catch(quietly('unfence', id))
          }
        }
        lastStage = stage
      }

      let stopped = false
      let timer: unknown = null
      let ticking = false
      let again = false
      const run = (): void => {
        if (stopped) return
        if (ticking) { again = true; return }
        clock.clearTimeout(timer)
        ticking = true
        tick().catch((err: unknown) => { ctx.log.warn({ err }, 'failover tick failed') }).finally(() => {
          ticking = false
          if (again) { again = false; run() } else schedule()
        })
      }
      const schedule = (): void => {
        if (stopped) return
        timer = clock.setTimeout(run, tickMs)
        ;(timer as { unref?: () => void } | null)?.unref?.()
      }
      schedule()
      // A host declared dead (or back) is acted on at once, not at the next tick.
      ctx.system.ask(membership, { type: 'membership.subscribe', subscriber: ctx.path, table: 'hosts', members: true }, { timeoutMs: ASK_MS })
        .catch((err: unknown) => { ctx.log.warn({ err }, 'could not subscribe to member changes; failover runs on its tick alone') })

      return {
        handlers: {
          'members.changed': () => { run() },
          'state.changed': () => {},
          'failover.drain': async (msg) => {
            const reply = await ctx.system.ask(membership, { type: 'membership.drain', draining: msg.draining })
            draining = reply.draining
            const { rows } = await ctx.system.ask(membership, { type: 'membership.state', table: 'machines' })
            return { draining, machines: currentMachineRows(rows).filter(r => r.owner === self).length }
          },
          'failover.status': () => ({
            fence: fence.stage,
            lostSinceMs: fence.lostSince,
            fenced: [...fenced.keys()],
            replaced,
            draining,
            evacuated,
            evacuating
          })
        },
        stop () {
          stopped = true
          clock.clearTimeout(timer)
        }
      }
    }
  })
}
