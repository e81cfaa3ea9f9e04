import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { createGossipNode, type GossipMessage, type GossipNode } from '../../src/gossip/gossip-node.js'
import { createReplica } from '../../src/gossip/replica.js'
import type { RowSigner } from '../../src/gossip/row-signature.js'
import { createMemoryStore, type ReplicaStore } from '../../src/gossip/replica-store.js'
import type { ChangeEvent } from '../../src/gossip/rows.js'
import type { EventRecorder } from '../../src/events/event-kinds.js'
import { memberEvent } from './member-event.js'
import { createSqliteStore } from '../../src/gossip/sqlite-store.js'
import type { ProfileName } from '../../src/gossip/swim-config.js'
import type { MemberInfo } from '../../src/gossip/swim.js'
import { createCodec } from '../../src/codec/codec.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { systemClock } from '../../src/runtime/clock.js'
import { policies } from '../../src/runtime/policy.js'
import { ref, type Ref } from '../../src/runtime/ref.js'
import type { CapacityLedger } from '../../src/placement/capacity.js'
import type { Transport } from '../../src/transport/transport.js'
import { membershipProtocol, type Member, type MembershipProtocol, type MembersSubscriberProtocol, type StateSubscriberProtocol } from './messages.js'

export interface MembershipInit {
  name: string
  version: string
  region: string
  /** Where the replica's SQLite file lives; undefined keeps it in memory. */
  dataDir?: string
  profile?: ProfileName
  /** Accept `membership.fault` (tests only). */
  faults?: boolean
}

export interface MembershipComponents {
  transport: Transport
  /** This host's key (host-key.ts): signs the rows it writes. Its host id must be the system's. */
  signer: RowSigner
  /** Overrides the replica store (tests). */
  store?: () => ReplicaStore
  /** This host's room for machines, published in its `hosts` row for placers elsewhere. */
  capacity: Pick<CapacityLedger, 'free' | 'onChange'>
  /** This host's event stream: every member state change goes in. */
  events: EventRecorder
}

export const HOST_ROW_REFRESH_MS = 30_000
/** Present in the data dir while the host is draining (`roost host drain`). */
export const DRAIN_FILE = 'draining'
export const REDISCOVER_INTERVAL_MS = 15_000
/** Rows of one anti-entropy message merged per event-loop turn (signature checks are the cost). */
export const AE_ROWS_PER_TURN = 32
const GOSSIP_PREFIX = 'gossip.'

/**
 * Membership and the replicated cluster state of this host: SWIM gossip with other hosts'
 * `/agent/membership` (validated actor messages over the transport), the replica persisted in
 * SQLite so a restarted agent serves its last view at once, and ordered change events for
 * local subscribers. Crash policy: restart with backoff (the replica reloads from disk).
 */
export function membershipActor (init: MembershipInit, components: MembershipComponents): ActorDefinition<MembershipProtocol> {
  const { transport } = components
  const codec = createCodec()
  return defineActor({
    protocol: membershipProtocol,
    policy: policies.restart({ backoff: { initialMs: 100, maxMs: 5_000, factor: 2 }, maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const self = ctx.system.hostId
      const store = components.store?.() ?? (init.dataDir === undefined ? createMemoryStore() : createSqliteStore({ path: join(init.dataDir, 'replica.db') }, { logger: ctx.log }))
      const replica = createReplica({ hostId: self }, { logger: ctx.log, clock: systemClock, store, signer: components.signer })
      const blocked = new Set<string>()
      const meta = { name: init.name, region: init.region, addresses: transport.addresses(), version: init.version }

      const send = (to: string, msg: GossipMessage): void => {
        if (blocked.has(to)) return
        const { t, ...body } = msg as GossipMessage & Record<string, unknown>
        ctx.system.dispatch(ref<MembershipProtocol>(to, ctx.path), { ...body, type: `${GOSSIP_PREFIX}${t}` } as never, { from: ctx.path })
      }
      const node: GossipNode = createGossipNode({
        id: self,
        meta,
        profile: init.profile ?? 'lan',
        incarnation: Math.floor(Date.now() / 1000)
      }, {
        clock: systemClock,
        random: Math.random,
        send,
        replica,
        sizeOf: (row) => codec.encode(row).byteLength,
        ...(transport.framesFrom === undefined ? {} : { framesFrom: transport.framesFrom }),
        logger: ctx.log
      })

      const subscriptions = new Map<string, () => void>()
      /** Subscribers told of member state changes (`members: true`). */
      const memberWatchers = new Map<string, Ref<MembersSubscriberProtocol>>()
      const drainFile = init.dataDir === undefined ? undefined : join(init.dataDir, DRAIN_FILE)
      let draining = drainFile !== undefined && existsSync(drainFile)
      const writeHostRow = (): void => {
        replica.write('hosts', self, {
          id: self,
          name: init.name,
          region: init.region,
          addresses: transport.addresses(),
          cpusFree: components.capacity.free().cpus,
          memoryFreeMb: components.capacity.free().memoryMb,
          draining,
          version: init.version
        })
      }

      replica.start()
      node.start()
      node.onMemberChange((m, previous) => {
        if (m.state === 'alive' && previous !== undefined && previous !== 'alive') ctx.log.info({ host: m.id, name: m.meta?.name, from: previous }, 'member alive again')
        else if (m.state === 'alive' && previous === undefined) ctx.log.info({ host: m.id, name: m.meta?.name }, 'member joined')
        else if (m.state !== 'alive') ctx.log.info({ host: m.id, name: m.meta?.name, state: m.state, incarnation: m.incarnation }, `member ${m.state}`)
        if (m.id !== self) {
          const e = memberEvent(m, previous)
          components.events.record(e.kind, e.message, e.data)
        }
        if (m.state === 'alive') replica.markOwnerAlive(m.id)
        // Routers stop choosing a suspect host's machines now, not at their next look at the list.
        for (const w of memberWatchers.values()) ctx.system.dispatch(w, { type: 'members.changed', hostId: m.id, state: m.state }, { from: ctx.path })
        // What is in flight to a dead host fails now, not when its stream times out (seconds later).
        if (m.state === 'dead' && m.id !== self) transport.hostDown?.(m.id, 'declared dead by gossip')
        // Back (a restart, a healed partition): a dial begun while it was away starts afresh.
        if (m.state === 'alive' && previous !== 'alive' && m.id !== self) transport.hostUp?.(m.id)
      })
      writeHostRow()
      const offCapacity = components.capacity.onChange(writeHostRow)
      const refresh = setInterval(writeHostRow, HOST_ROW_REFRESH_MS)
      refresh.unref()

      const onDiscover = (hostId: string): void => { ctx.tell({ type: 'membership.introduce', hostId }) }
      transport.on('discover', onDiscover)
      for (const p of transport.peers()) onDiscover(p.hostId)
      // Hosts under the topic that gossip has forgotten (e.g. after a long partition) are introduced again.
      const rediscover = setInterval(() => {
        for (const p of transport.peers()) if (node.swim.member(p.hostId) === undefined && !blocked.has(p.hostId)) onDiscover(p.hostId)
      }, REDISCOVER_INTERVAL_MS)
      rediscover.unref()

      const view = (m: MemberInfo): Member => ({
        hostId: m.id,
        name: m.meta?.name ?? '',
        version: m.meta?.version ?? '',
        region: m.meta?.region ?? '',
        addresses: m.meta?.addresses ?? [],
        state: m.state,
        self: m.id === self,
        incarnation: m.incarnation,
        rttMs: m.rttMs ?? null,
        changedAt: m.changedAt,
        downSince: m.downSince
      })

      const receive = (msg: { type: string } & Record<string, unknown>, host: string): void => {
        if (blocked.has(host)) return
        msg.t = msg.type.slice(GOSSIP_PREFIX.length)
        node.receive(host, msg as unknown as GossipMessage)
      }

      return {
        handlers: {
          'membership.list': () => ({ members: node.members().map(view) }),
          'membership.metrics': () => {
            const members: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
            for (const m of node.members()) members[m.state] = (members[m.state] ?? 0) + 1
            const converged = node.lastConverged()
            return { members, tables: replica.tableCounts(), antiEntropyLagMs: converged === undefined ? null : systemClock.now() - converged, probeRtt: node.swim.probeRtt() as never }
          },
          'membership.state': (msg) => ({ rows: replica.list(msg.table, { includeDeleted: msg.includeDeleted === true }) }),
          'membership.subscribe': (msg) => {
            subscriptions.get(msg.subscriber)?.()
            const target = ref<StateSubscriberProtocol>(self, msg.subscriber)
            let last = 0
            const unsubscribe = replica.subscribe({
              ...(msg.table === undefined ? {} : { table: msg.table }),
              ...(msg.owner === undefined ? {} : { where: (row) => row.owner === msg.owner })
            }, (e: ChangeEvent) => {
              last = e.seq
              ctx.system.dispatch(target, { type: 'state.changed', seq: e.seq, kind: e.kind, row: e.row as never }, { from: ctx.path })
            })
            subscriptions.set(msg.subscriber, unsubscribe)
            if (msg.members === true) memberWatchers.set(msg.subscriber, ref<MembersSubscriberProtocol>(self, msg.subscriber))
            else memberWatchers.delete(msg.subscriber)
            return { seq: last }
          },
          'membership.unsubscribe': (msg) => {
            subscriptions.get(msg.subscriber)?.()
            subscriptions.delete(msg.subscriber)
            memberWatchers.delete(msg.subscriber)
          },
          'membership.write': (msg) => replica.write(msg.table, msg.key, msg.data) as never,
          'membership.delete': (msg) => replica.delete(msg.table, msg.key) as never,
          'membership.introduce': (msg) => {
            const known = node.swim.member(msg.hostId)
            if (known === undefined || known.state === 'dead' || known.state === 'left') node.join([msg.hostId])
          },
          'membership.drain': (msg) => {
            if (drainFile !== undefined) {
              if (msg.draining) writeFileSync(drainFile, `${new Date().toISOString()}\n`)
              else rmSync(drainFile, { force: true })
            }
            if (draining !== msg.draining) ctx.log.info({ draining: msg.draining }, msg.draining ? 'host draining' : 'host no longer draining')
            draining = msg.draining
            writeHostRow()
            return { draining }
          },
          'membership.leave': () => { node.leave() },
          'membership.fault': (msg) => {
            if (init.faults !== true) throw new InvalidArgumentError('fault injection is off (start the agent with ROOST_ENABLE_FAULTS=1)')
            blocked.clear()
            for (const h of msg.block) blocked.add(h)
            ctx.log.warn({ blocked: msg.block }, 'fault injection: gossip blocked')
          },
          'gossip.ping': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.ack': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.ping-req': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.nack': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.gossip': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.sync': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.ae-digest': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.ae-entries': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.ae-want': (msg, _c, s) => { receive(msg, s.host) },
          'gossip.ae-rows': async (msg, _c, s) => {
            // Each row's signature costs ~50–100 µs to verify: a frame full of rows is merged a
            // slice per event-loop turn, so a big sync (or a hostile one) never stalls the agent.
            const rows = msg.rows
            for (let i = 0; i < rows.length; i += AE_ROWS_PER_TURN) {
              if (i > 0) await new Promise<void>(resolve => { setImmediate(resolve) })
              receive({ ...msg, rows: rows.slice(i, i + AE_ROWS_PER_TURN) }, s.host)
            }
          }
        },
        stop () {
          offCapacity()
          clearInterval(refresh)
          clearInterval(rediscover)
          transport.off('discover', onDiscover)
          for (const u of subscriptions.values()) u()
          node.stop()
          replica.stop()
          store.close()
        }
      }
    }
  })
}
