import { MeshError } from '../../src/errors/errors.js'
import { meshPrefix } from '../../src/mesh/mesh-address.js'
import { wireguardAvailable } from '../../src/mesh/wg-command.js'
import type { WgInterfaceStatus } from '../../src/mesh/wg-dump.js'
import { loadOrCreateWgKey } from '../../src/mesh/wg-keys.js'
import { createWireguardInterface, type WireguardInterface, type WireguardInterfaceInit } from '../../src/mesh/wireguard-interface.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { DEFAULT_MESH_PORT, type MeshPath } from '../../src/transport/mesh-path.js'
import type { MeshTransport } from '../../src/transport/mesh-transport.js'
import type { Logger } from '../../src/log/logger.js'
import type { Milestones } from '../../src/log/milestones.js'
import type { MembershipProtocol } from '../membership/messages.js'
import { wireguardProtocol, type MeshPeerView, type WireguardProtocol, type WireguardStatus } from './messages.js'
import type { WireguardHeadStart } from './head-start.js'
import { addressFor, interfaceInit, readState, writeState, type SavedState } from './wireguard-state.js'
import { desiredPeers, meshRoutes, mustMove, peerSpecs, withoutDuplicateKeys, type MeshPeer, type WireguardRow } from './peers.js'

export const HEALTH_EVERY_MS = 2_000
export const PUBLISH_EVERY_MS = 10_000
export const SYNC_DELAY_MS = 25
/** While a new peer has no handshake yet, the dump is read this often (then every HEALTH_EVERY_MS). */
export const HANDSHAKE_POLL_MS = 50
export const HANDSHAKE_POLL_FOR_MS = 30_000
/** WireGuard drops a session this long after its last handshake (REJECT_AFTER_TIME). */
export const HANDSHAKE_FRESH_S = 180

export type WireguardMode = 'auto' | 'on' | 'off'

export interface WireguardActorInit {
  cluster: string
  dataDir: string
  /** auto: WireGuard where it can run (root, wireguard-go), streams otherwise; on: required; off: streams only. */
  mode: WireguardMode
  /** This host's underlay address other hosts reach its UDP port on. */
  underlayHost: string
  listenPort?: number
  meshPort?: number
  ifname?: string
  healthEveryMs?: number
  publishEveryMs?: number
  /**
   * Tests only (agents started with ROOST_ENABLE_FAULTS=1): honour a `faultAddress` in the data
   * dir's wireguard.json as this host's address at salt 0, in place of its key's hash — an
   * address collision made on purpose; from salt 1 on the host uses its own hash again.
   */
  faults?: boolean
}

/** What the actor needs of the transport: path per host, mesh routes, counters. */
export type MeshRouting = Pick<MeshTransport, 'pathTo' | 'setRoutes' | 'stats'>

export interface WireguardActorComponents {
  transport: MeshRouting
  mesh: MeshPath | undefined
  createInterface?: (init: WireguardInterfaceInit, components: { logger: Logger }) => WireguardInterface
  available?: WireguardAvailability
  /**
   * The start's milestones: `wireguard.boot`, `wireguard.up` (wireguard-go configured),
   * `wireguard.published` (own row written), `wireguard.rows` n (peer rows seen),
   * `wireguard.peers` n (peers configured), `wireguard.handshakes` n (peers with a handshake).
   */
  milestones: Pick<Milestones, 'reach'>
  /** wireguard-go started by the agent before this actor (the first boot adopts it). */
  headStart?: Pick<WireguardHeadStart, 'take'>
}

/** Whether WireGuard can run on this host, and if not why (`wireguardAvailable`'s shape). */
export type WireguardAvailability = () => { ok: true } | { ok: false, reason: string }

/**
 * What `--wireguard on` requires: WireGuard able to run here. Otherwise a MeshError (ERR_MESH)
 * whose message says what is missing and how to install it (e.g. `wireguard-go not found on PATH
 * (apt-get install wireguard-go wireguard-tools)`). The agent checks it before it starts anything.
 */
export function requireWireguard (available: WireguardAvailability = wireguardAvailable): void {
  const avail = available()
  if (!avail.ok) throw new MeshError(`--wireguard on, but WireGuard cannot run here: ${avail.reason}`, { reason: avail.reason })
}

/** The WireGuard interface name of a host: unique on the machine because host ids are. */
export function wireguardIfname (hostId: string): string {
  return `rw${hostId.slice(0, 12)}`
}

const signature = (ps: readonly MeshPeer[]): string => ps.map(p => `${p.hostId} ${p.row.publicKey} ${p.row.endpoint} ${p.row.address} ${p.row.meshPort}`).join('\n')

/**
 * `/agent/wireguard`: this host's end of the mesh. It owns a keypair, a mesh address derived
 * from the public key, a wireguard-go interface (respawned with its peers when it dies), and
 * keeps the peer set and the transport's mesh routes in step with the gossiped `wireguard`
 * table, in batches. Tunnel health (handshakes, counters) goes back into that table. Where
 * WireGuard cannot run, messages keep to the hyperswarm streams and the status says why.
 * Crash policy: restart (a new interface from the persisted key, port and address salt), then
 * escalate.
 */
export function wireguardActor (init: WireguardActorInit, components: WireguardActorComponents): ActorDefinition<WireguardProtocol> {
  const { transport, mesh, milestones } = components
  const meshPort = init.meshPort ?? DEFAULT_MESH_PORT
  const prefix = meshPrefix(init.cluster)
  // wireguard-go restarts before this incarnation: its interfaces' respawns, and one for each
  // interface made anew after a crash. Reported as one count that only grows, like a pod's.
  let earlierRestarts = 0
  let boots = 0
  return defineActor({
    protocol: wireguardProtocol,
    policy: policies.restart({ backoff: { initialMs: 250, maxMs: 5_000, factor: 2 }, maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const self = ctx.system.hostId
      const membership = ref<MembershipProtocol>(self, '/agent/membership')
      const ifname = init.ifname ?? wireguardIfname(self)
      let iface: WireguardInterface | undefined
      let me: { publicKey: string, address: string, salt: number, endpoint: string } | undefined
      let peers: MeshPeer[] = []
      let dump: WgInterfaceStatus | undefined
      let collisions = 0
      let saved: SavedState = { salt: 0, listenPort: 0 }
      let reason: string | null = 'starting'
      let stopped = false
      let syncTimer: NodeJS.Timeout | undefined
      let lastPublished = ''
      let lastPublishAt = 0
      let handshaken = new Set<string>()
      let pollUntil = 0
      let pollTimer: NodeJS.Timeout | undefined
      const timers: NodeJS.Timeout[] = []
      let chain: Promise<void> = Promise.resolve()

      const restarts = (): number => earlierRestarts + (iface?.restarts() ?? 0)
      const fail = (err: unknown): void => {
        if (stopped) return
        const e = err as { message?: string, code?: string }
        ctx.tell({ type: 'wireguard.failed', message: String(e.message ?? err), code: String(e.code ?? 'ERR_MESH') })
      }
      const serial = (fn: () => Promise<void>): void => {
        chain = chain.then(async () => { if (!stopped) await fn() }).catch(fail)
      }

      const publish = async (force: boolean): Promise<void> => {
        if (me === undefined || iface === undefined) return
        const nowS = Math.floor(Date.now() / 1000)
        const dumped = dump?.peers ?? []
        const up = dumped.filter(p => p.latestHandshake > 0 && nowS - p.latestHandshake < HANDSHAKE_FRESH_S).length
        const summary = `${peers.length}/${up}/${restarts()}/${me.address}/${me.endpoint}`
        if (!force && summary === lastPublished && Date.now() - lastPublishAt < (init.publishEveryMs ?? PUBLISH_EVERY_MS)) return
        lastPublished = summary
        lastPublishAt = Date.now()
        await ctx.system.ask(membership, {
          type: 'membership.write',
          table: 'wireguard',
          key: self,
          data: {
            publicKey: me.publicKey,
            address: me.address,
            salt: me.salt,
            endpoint: me.endpoint,
            meshPort,
            peers: peers.length,
            up,
            rxBytes: dumped.reduce((n, p) => n + p.rxBytes, 0),
            txBytes: dumped.reduce((n, p) => n + p.txBytes, 0),
            restarts: restarts(),
            updatedAt: Date.now()
          }
        }, { timeoutMs: 5_000 })
      }

      const sync = async (): Promise<void> => {
        if (me === undefined || iface === undefined) return
        const { rows } = await ctx.system.ask(membership, { type: 'membership.state', table: 'wireguard' }, { timeoutMs: 5_000 })
        const next = withoutDuplicateKeys(desiredPeers(rows as WireguardRow[], self, init.cluster), me.publicKey)
        if (mustMove(next, { hostId: self, ...me })) {
          collisions++
          const salt = me.salt + 1
          await writeState(init.dataDir, { ...saved, salt, listenPort: iface.listenPort() })
          throw new MeshError(`mesh address ${me.address} collides with another host's; moving to salt ${salt}`, { address: me.address, salt })
        }
        milestones.reach('wireguard.rows', next.length)
        if (signature(next) === signature(peers)) return
        const before = new Set(peers.map(p => p.hostId))
        const after = new Set(next.map(p => p.hostId))
        const added = next.filter(p => !before.has(p.hostId)).map(p => p.hostId.slice(0, 12))
        const removed = peers.filter(p => !after.has(p.hostId)).map(p => p.hostId.slice(0, 12))
        await iface.setPeers(peerSpecs(next))
        peers = next
        milestones.reach('wireguard.peers', next.length)
        transport.setRoutes(meshRoutes(next, handshaken))
        pollUntil = Date.now() + HANDSHAKE_POLL_FOR_MS
        schedulePoll()
        if (added.length > 0 || removed.length > 0) ctx.log.info({ added, removed, peers: next.length }, 'wireguard peers updated')
        await publish(true)
      }

      /** Reads the dump; peers that completed a handshake become dialable on the mesh path. */
      const observe = async (): Promise<void> => {
        if (iface === undefined) return
        dump = await iface.status()
        const now = new Set(dump.peers.filter(p => p.latestHandshake > 0).map(p => p.publicKey))
        milestones.reach('wireguard.handshakes', peers.filter(p => now.has(p.row.publicKey)).length)
        if (peers.some(p => now.has(p.row.publicKey) !== handshaken.has(p.row.publicKey))) {
          handshaken = now
          transport.setRoutes(meshRoutes(peers, handshaken))
        } else {
          handshaken = now
        }
      }

      const health = async (): Promise<void> => {
        await observe()
        await publish(false)
      }

      const schedulePoll = (): void => {
        if (pollTimer !== undefined || stopped) return
        pollTimer = setTimeout(() => {
          pollTimer = undefined
          serial(async () => {
            await observe()
            if (Date.now() < pollUntil && peers.some(p => !handshaken.has(p.row.publicKey))) schedulePoll()
          })
        }, HANDSHAKE_POLL_MS)
      }

      const boot = async (): Promise<void> => {
        milestones.reach('wireguard.boot')
        if (boots++ > 0) earlierRestarts++
        let early = await components.headStart?.take()
        if (early !== undefined && early.iface.ifname !== ifname) {
          await early.iface.stop()
          early = undefined
        }
        const key = early?.key ?? await loadOrCreateWgKey(init.dataDir)
        saved = early?.saved ?? await readState(init.dataDir)
        const { address, forced } = addressFor(init.cluster, key.publicKey, saved, init.faults === true)
        if (forced) ctx.log.warn({ address }, 'fault injection: claiming a given mesh address at salt 0')
        const make = components.createInterface ?? createWireguardInterface
        iface = early?.address === address ? early.iface : make(interfaceInit(init.cluster, ifname, key.privateKey, saved, address, init.listenPort), { logger: ctx.log })
        if (early !== undefined && iface !== early.iface) await early.iface.stop()
        iface.on('exit', (info) => { ctx.log.warn(info, 'wireguard-go exited; restarting it') })
        iface.on('restart', (info) => {
          ctx.log.info(info, 'wireguard-go restarted with its peers')
          serial(async () => {
            // The new wireguard-go has no sessions: dial again only once handshakes are seen.
            handshaken = new Set()
            transport.setRoutes(meshRoutes(peers, handshaken))
            pollUntil = Date.now() + HANDSHAKE_POLL_FOR_MS
            schedulePoll()
            await publish(true)
          })
        })
        iface.on('error', (info) => { fail(new MeshError(`wireguard-go cannot be restarted: ${String(info.err)}`)) })
        await iface.start()
        if (stopped) return
        milestones.reach('wireguard.up')
        saved = { ...saved, listenPort: iface.listenPort() }
        await writeState(init.dataDir, saved)
        if (mesh !== undefined && mesh.listening()?.address !== address) {
          await mesh.stop()
          await mesh.start(address)
        }
        me = { publicKey: key.publicKey, address, salt: saved.salt, endpoint: `${init.underlayHost.includes(':') ? `[${init.underlayHost}]` : init.underlayHost}:${iface.listenPort()}` }
        reason = null
        ctx.log.info({ ifname, address, endpoint: me.endpoint, publicKey: key.publicKey }, 'wireguard up: messages to peers go through the tunnels once connected')
        await ctx.system.ask(membership, { type: 'membership.subscribe', subscriber: ctx.path, table: 'wireguard' }, { timeoutMs: 5_000 })
        await publish(true)
        milestones.reach('wireguard.published')
        await sync()
        const tick = setInterval(() => { serial(health) }, init.healthEveryMs ?? HEALTH_EVERY_MS)
        tick.unref()
        timers.push(tick)
      }

      if (init.mode === 'off') {
        reason = 'disabled (--wireguard off)'
      } else {
        const available = components.available ?? wireguardAvailable
        const avail = available()
        if (!avail.ok) {
          reason = avail.reason
          if (init.mode === 'on') {
            try { requireWireguard(() => avail) } catch (err) { fail(err) }
          }
        } else if (mesh === undefined) {
          reason = 'the transport has no mesh path'
        } else {
          serial(boot)
        }
      }
      if (reason !== null && reason !== 'starting') ctx.log.info({ reason }, 'wireguard off: messages use hyperswarm streams only')

      const peerView = (p: MeshPeer): MeshPeerView => {
        const d = dump?.peers.find(x => x.publicKey === p.row.publicKey)
        return {
          hostId: p.hostId,
          publicKey: p.row.publicKey,
          address: p.row.address,
          endpoint: d?.endpoint ?? p.row.endpoint,
          latestHandshake: d?.latestHandshake ?? 0,
          rxBytes: d?.rxBytes ?? 0,
          txBytes: d?.txBytes ?? 0,
          path: transport.pathTo(p.hostId)
        }
      }

      return {
        handlers: {
          'wireguard.status': async (): Promise<WireguardStatus> => {
            if (iface !== undefined && me !== undefined) dump = await iface.status().catch(() => dump)
            return {
              mode: me === undefined ? 'stream' : 'wireguard',
              reason,
              ifname: iface === undefined ? null : ifname,
              publicKey: me?.publicKey ?? null,
              address: me?.address ?? null,
              prefix,
              listenPort: iface?.listenPort() ?? null,
              meshPort: me === undefined ? null : meshPort,
              endpoint: me?.endpoint ?? null,
              pid: iface?.pid() ?? null,
              restarts: restarts(),
              collisions,
              peers: peers.map(peerView),
              stats: transport.stats()
            }
          },
          'state.changed': () => {
            if (me === undefined || syncTimer !== undefined) return
            syncTimer = setTimeout(() => { syncTimer = undefined; serial(sync) }, SYNC_DELAY_MS)
          },
          'wireguard.failed': (msg) => { throw new MeshError(msg.message, { code: msg.code }) }
        },
        async stop () {
          stopped = true
          for (const t of timers) clearInterval(t)
          if (syncTimer !== undefined) clearTimeout(syncTimer)
          if (pollTimer !== undefined) clearTimeout(pollTimer)
          await chain.catch(() => {})
          transport.setRoutes(new Map())
          await ctx.system.ask(membership, { type: 'membership.unsubscribe', subscriber: ctx.path }, { timeoutMs: 1_000 }).catch(() => {})
          earlierRestarts += iface?.restarts() ?? 0
          await iface?.stop().catch((err: unknown) => { ctx.log.warn({ err }, 'wireguard interface stop failed') })
          iface = undefined
        }
      }
    }
  })
}
