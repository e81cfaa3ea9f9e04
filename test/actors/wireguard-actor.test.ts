import { createCapacityLedger } from '../../src/placement/capacity.js'
import test, { type ExecutionContext } from 'ava'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { membershipActor } from '../../actors/membership/membership-actor.js'
import type { MembershipProtocol } from '../../actors/membership/messages.js'
import type { WireguardProtocol } from '../../actors/wireguard/messages.js'
import { desiredPeers, type WireguardRow } from '../../actors/wireguard/peers.js'
import { startWireguardHeadStart } from '../../actors/wireguard/head-start.js'
import { requireWireguard, wireguardActor, wireguardIfname, type MeshRouting, type WireguardActorInit, type WireguardAvailability } from '../../actors/wireguard/wireguard-actor.js'
import { createCodec } from '../../src/codec/codec.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { silentLogger, type Logger } from '../../src/log/logger.js'
import { MeshError } from '../../src/errors/errors.js'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { meshAddress } from '../../src/mesh/mesh-address.js'
import { generateWgKeyPair, wgPublicKeyOf } from '../../src/mesh/wg-keys.js'
import type { WgPeerSpec, WireguardEvent, WireguardInterface, WireguardInterfaceInit } from '../../src/mesh/wireguard-interface.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import type { MeshPath, MeshRoute } from '../../src/transport/mesh-path.js'
import { createMemoryNetwork, type MemoryNetwork } from '../../src/transport/memory-transport.js'
import type { Transport } from '../../src/transport/transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { hostKeyOf } from '../helpers/host-keys.js'
import { retry } from '../helpers/retry.js'
import { memoryEventLog } from '../helpers/events.js'
import { createMilestones, type Milestones } from '../../src/log/milestones.js'
import { systemClock } from '../../src/runtime/clock.js'

const CLUSTER = 'wg-test'

const agentRoot = defineActor({
  protocol: defineActorProtocol('test-agent', { 'agent.ping': { body: Type.Object({}), reply: Type.Null(), from: 'member' } }),
  policy: policies.resume(),
  create: () => ({ handlers: { 'agent.ping': () => null } })
})

/** A WireGuard interface that records what it was told (unit tests of the actor's decisions). */
interface FakeIface extends WireguardInterface {
  init: WireguardInterfaceInit
  peers: WgPeerSpec[]
  batches: number
  started: number
  stopped: number
  respawns: number
  /** Calls the actor's listeners as the real interface would. */
  emit: (event: WireguardEvent, info: Record<string, unknown>) => void
}
function fakeInterface (into: FakeIface[]) {
  return (init: WireguardInterfaceInit): WireguardInterface => {
    const listeners: Array<{ event: WireguardEvent, fn: (info: Record<string, unknown>) => void }> = []
    const f: FakeIface = {
      init,
      peers: [],
      batches: 0,
      started: 0,
      stopped: 0,
      respawns: 0,
      emit: (event, info) => { for (const l of listeners) if (l.event === event) l.fn(info) },
      ifname: init.ifname,
      start: async () => { f.started++ },
      stop: async () => { f.stopped++ },
      setPeers: async (peers) => { f.peers = peers; f.batches++ },
      status: async () => ({ publicKey: '', listenPort: 51820, peers: f.peers.map(p => ({ publicKey: p.publicKey, endpoint: p.endpoint, allowedIps: p.allowedIps, latestHandshake: Math.floor(Date.now() / 1000), rxBytes: 10, txBytes: 20, keepaliveS: p.keepaliveS ?? null })) }),
      listenPort: () => 51820,
      pid: () => 4242,
      restarts: () => f.respawns,
      handshakeRetries: () => 0,
      on: (event, fn) => { listeners.push({ event, fn }) }
    }
    into.push(f)
    return f
  }
}

interface Host { name: string, hostId: string, system: ActorSystem, transport: Transport, ifaces: FakeIface[], routes: Array<ReadonlyMap<string, MeshRoute>>, dataDir: string, milestones: Milestones, startedBeforeActor: number }

const fakeMesh = (): MeshPath => {
  let at: MeshRoute | undefined
  return {
    start: async (address) => { at = { address, port: 4281 } },
    stop: async () => { at = undefined },
    listening: () => at,
    setRoutes: () => {},
    connected: () => false,
    send: () => false,
    sendFramed: () => false,
    drop: () => {},
    connections: () => [],
    on: () => {},
    off: () => {}
  }
}

interface HostOpts {
  hostId?: string
  mode?: WireguardActorInit['mode']
  dataDir?: string
  /** Whether WireGuard can run (default: it can). */
  available?: WireguardAvailability
  logger?: Logger
  /** Start the interface before the actor, as the agent does (head-start.ts); the count of its start() calls then is `startedBeforeActor`. */
  headStart?: boolean
}

async function startHost (t: ExecutionContext, net: MemoryNetwork, name: string, opts: HostOpts & { faults?: boolean } = {}): Promise<Host> {
  const hostId = opts.hostId ?? randomHostId()
  const dataDir = opts.dataDir ?? await mkdtemp(join(tmpdir(), 'roost-wg-actor-'))
  if (opts.dataDir === undefined) t.teardown(async () => { await rm(dataDir, { recursive: true, force: true }) })
  const transport = net.transport({ hostId, name })
  await transport.start()
  const system = createActorSystem({ hostId, defaultAskTimeoutMs: 2_000 }, { logger: opts.logger ?? silentLogger(), codec: createCodec(), transport })
  await system.start()
  const ifaces: FakeIface[] = []
  const routes: Array<ReadonlyMap<string, MeshRoute>> = []
  const milestones = createMilestones({}, { clock: systemClock })
  const routing: MeshRouting = {
    pathTo: () => 'hyperswarm',
    setRoutes: (r) => { routes.push(r) },
    stats: () => ({ framesOut: { wireguard: 0, hyperswarm: 0 }, framesIn: { wireguard: 0, hyperswarm: 0 }, switches: 0, resent: 0, session: { unackedBytes: 0, reorderBytes: 0, unackedRefusals: 0, reorderOverflows: 0 } })
  }
  system.spawn(null, 'agent', agentRoot)
  system.spawn('/agent', 'membership', membershipActor({ name, version: '0', region: 'r1' }, { transport, signer: hostKeyOf(hostId), capacity: createCapacityLedger({ cpus: 8, memoryMb: 4096 }), events: await memoryEventLog(name) }))
  const headStart = opts.headStart === true
    ? startWireguardHeadStart({ cluster: CLUSTER, dataDir, ifname: wireguardIfname(hostId), ...(opts.faults === undefined ? {} : { faults: opts.faults }) }, { logger: silentLogger(), milestones, createInterface: fakeInterface(ifaces) })
    : undefined
  if (headStart !== undefined) await retry(() => ifaces[0]?.started === 1, { timeoutMs: 5_000, what: 'the head start to start its interface' })
  const startedBeforeActor = ifaces[0]?.started ?? 0
  system.spawn('/agent', 'wireguard', wireguardActor(
    { cluster: CLUSTER, dataDir, mode: opts.mode ?? 'on', underlayHost: `10.0.0.${name.slice(1)}`, healthEveryMs: 200, ...(opts.faults === undefined ? {} : { faults: opts.faults }) },
    { transport: routing, mesh: fakeMesh(), createInterface: fakeInterface(ifaces), available: opts.available ?? (() => ({ ok: true })), milestones, ...(headStart === undefined ? {} : { headStart }) }
  ))
  const host = { name, hostId, system, transport, ifaces, routes, dataDir, milestones, startedBeforeActor }
  t.teardown(async () => { await system.stop(); await transport.stop() })
  return host
}

const status = async (h: Host) => await h.system.ask(ref<WireguardProtocol>(h.hostId, '/agent/wireguard'), { type: 'wireguard.status' })
const current = (h: Host): FakeIface => h.ifaces[h.ifaces.length - 1] as FakeIface

test('peers follow membership: added on join in batches, removed when a host dies, back when it returns', async t => {
  const net = createMemoryNetwork()
  const hosts = [await startHost(t, net, 'h1'), await startHost(t, net, 'h2'), await startHost(t, net, 'h3')]
  await retry(() => hosts.every(h => current(h)?.peers.length === 2), { timeoutMs: 10_000, what: 'each host has the other two as peers' })
  const views = await Promise.all(hosts.map(status))
  for (const [i, h] of hosts.entries()) {
    const iface = current(h)
    const others = views.filter((_, j) => j !== i)
    t.deepEqual(iface.peers.map(p => p.publicKey).sort(), others.map(v => v.publicKey as string).sort())
    for (const p of iface.peers) {
      const o = others.find(v => v.publicKey === p.publicKey)
      t.deepEqual(p.allowedIps, [`${o?.address as string}/128`])
      t.regex(p.endpoint, /^10\.0\.0\.[123]:51820$/)
    }
    t.true(iface.batches <= 3, `${h.name}: peers applied in ${iface.batches} batches`)
    const routes = h.routes[h.routes.length - 1] as ReadonlyMap<string, MeshRoute>
    t.deepEqual([...routes.keys()].sort(), hosts.filter(o => o !== h).map(o => o.hostId).sort(), 'the transport routes to the same hosts')
  }
  t.is(views[0]?.address, meshAddress(CLUSTER, views[0]?.publicKey as string, 0))
  const keyFile = await readFile(join(hosts[0]!.dataDir, 'wireguard.key'), 'utf8')
  t.true(keyFile.length > 0)

  // Gossip publishes tunnel health.
  await retry(async () => {
    const { rows } = await hosts[0]!.system.ask(ref<MembershipProtocol>(hosts[0]!.hostId, '/agent/membership'), { type: 'membership.state', table: 'wireguard' })
    const mine = rows.find(r => r.key === hosts[1]!.hostId)
    return (mine?.data as { up?: number } | null)?.up === 2
  }, { timeoutMs: 10_000, what: 'h2 publishes 2 tunnels up' })

  const dead = hosts[2]!
  await dead.system.stop()
  await dead.transport.stop()
  await retry(() => current(hosts[0]!).peers.length === 1 && current(hosts[1]!).peers.length === 1, { timeoutMs: 20_000, what: 'the dead host removed from the peers' })
  t.false(current(hosts[0]!).peers.some(p => p.publicKey === views[2]?.publicKey))

  const back = await startHost(t, net, 'h3', { hostId: dead.hostId, dataDir: dead.dataDir })
  await retry(() => current(hosts[0]!).peers.length === 2 && current(back).peers.length === 2, { timeoutMs: 20_000, what: 'the host re-added when it returns' })
  t.true(current(hosts[0]!).peers.some(p => p.publicKey === views[2]?.publicKey), 'same key (persisted) after the restart')
})

test('the agent\'s head-started interface is adopted: no second interface, its key and address are the host\'s, peers reach it', async t => {
  const net = createMemoryNetwork()
  const hosts = [await startHost(t, net, 'h1', { headStart: true }), await startHost(t, net, 'h2', { headStart: true })]
  await retry(() => hosts.every(h => current(h)?.peers.length === 1), { timeoutMs: 10_000, what: 'each host has the other as a peer' })
  for (const h of hosts) {
    t.is(h.startedBeforeActor, 1, `${h.name}: its interface was started before the actor existed`)
    t.is(h.ifaces.length, 1, `${h.name}: the actor made no interface of its own`)
    const s = await status(h)
    t.true((await readFile(join(h.dataDir, 'wireguard.key'), 'utf8')).includes(current(h).init.privateKey), `${h.name}: the interface runs the data dir's key`)
    t.is(s.publicKey, wgPublicKeyOf(current(h).init.privateKey))
    t.is(s.address, current(h).init.address)
    t.deepEqual(h.milestones.list().filter(m => m.event === 'wireguard.peers').map(m => m.n), [1])
  }
})

test('wireguard-go restarts are one count that only grows: an interface\'s respawns, and a new interface after the actor\'s crash', async t => {
  const net = createMemoryNetwork()
  const a = await startHost(t, net, 'h1')
  await retry(async () => (await status(a)).mode === 'wireguard', { timeoutMs: 5_000, what: 'the interface up' })
  t.is((await status(a)).restarts, 0)
  const first = current(a)
  first.respawns = 2
  first.emit('restart', { pid: 4242, restarts: 2, attempt: 1 })
  t.is((await status(a)).restarts, 2)
  first.emit('error', { attempts: 5, err: new Error('no wireguard-go') })
  await retry(() => a.ifaces.length === 2 && current(a).started === 1, { timeoutMs: 5_000, what: 'the actor restarted with a new interface' })
  t.is(first.stopped, 1, 'the interface it gave up on is stopped')
  await retry(async () => (await status(a).catch(() => undefined))?.restarts === 3, { timeoutMs: 5_000, what: 'the count carried over, plus the new interface' })
  current(a).respawns = 1
  t.is((await status(a)).restarts, 4)
})

test('an address collision moves the host with the larger id to its next salt', async t => {
  const net = createMemoryNetwork()
  const [small, large] = [randomHostId(), randomHostId()].sort()
  const a = await startHost(t, net, 'h1', { hostId: large as string })
  const b = await startHost(t, net, 'h2', { hostId: small as string, mode: 'off' })
  const before = await retry(async () => { const s = await status(a); return s.address === null ? undefined : s }, { what: 'h1 up' })
  // h2 runs no tunnel end; its row claims h1's address with another key, as a colliding host would.
  await b.system.ask(ref<MembershipProtocol>(b.hostId, '/agent/membership'), {
    type: 'membership.write',
    table: 'wireguard',
    key: b.hostId,
    data: { publicKey: generateWgKeyPair().publicKey, address: before.address, salt: 0, endpoint: '10.0.0.2:51820', meshPort: 4281, peers: 0, up: 0, rxBytes: 0, txBytes: 0, restarts: 0, updatedAt: Date.now() }
  })
  const after = await retry(async () => { const s = await status(a); return s.address !== null && s.address !== before.address ? s : undefined }, { timeoutMs: 15_000, what: 'h1 moved to another address' })
  t.is(after.address, meshAddress(CLUSTER, before.publicKey as string, 1))
  t.is(after.publicKey, before.publicKey, 'same key, next salt')
  t.is((JSON.parse(await readFile(join(a.dataDir, 'wireguard.json'), 'utf8')) as { salt: number }).salt, 1)
  t.true(a.ifaces.length >= 2 && (a.ifaces[0] as FakeIface).stopped >= 1, 'the old interface was stopped and a new one made')
})

/** What wireguardAvailable says on a machine without wireguard-go. */
const NO_WIREGUARD_GO: WireguardAvailability = () => ({ ok: false, reason: 'wireguard-go not found on PATH (apt-get install wireguard-go wireguard-tools)' })

/** A logger whose JSON lines are kept for the test to read. */
function recordingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>); done() } })
  return { logger: pino({ level: 'info' }, sink), lines }
}

test('a faultAddress in wireguard.json is claimed at salt 0 only with fault injection on', async t => {
  const forced = meshAddress(CLUSTER, generateWgKeyPair().publicKey)
  const seeded = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'roost-wg-actor-'))
    t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
    await writeFile(join(dir, 'wireguard.json'), JSON.stringify({ salt: 0, listenPort: 0, faultAddress: forced }))
    return dir
  }
  const net = createMemoryNetwork()
  const plain = await startHost(t, net, 'h1', { dataDir: await seeded() })
  const faulty = await startHost(t, net, 'h2', { dataDir: await seeded(), faults: true })
  const [p, f] = await Promise.all([plain, faulty].map(async h => await retry(async () => { const s = await status(h); return s.address === null ? undefined : s }, { what: `${h.name} up` })))
  t.is(p?.address, meshAddress(CLUSTER, p?.publicKey as string, 0), 'ignored without fault injection')
  t.is(f?.address, forced, 'claimed with it')
  t.is(current(faulty).init.address, forced, 'and given to the interface')
  t.is((JSON.parse(await readFile(join(faulty.dataDir, 'wireguard.json'), 'utf8')) as { faultAddress?: string }).faultAddress, forced, 'kept across restarts at salt 0')
})

test('with WireGuard off the status says so and messages keep to the streams', async t => {
  const net = createMemoryNetwork()
  const h = await startHost(t, net, 'h1', { mode: 'off' })
  const s = await status(h)
  t.is(s.mode, 'stream')
  t.regex(s.reason ?? '', /disabled/)
  t.is(h.ifaces.length, 0)
})

test('with WireGuard unavailable (auto) the status names what is missing and messages keep to the streams', async t => {
  const net = createMemoryNetwork()
  const h = await startHost(t, net, 'h1', { mode: 'auto', available: NO_WIREGUARD_GO })
  const s = await status(h)
  t.is(s.mode, 'stream')
  t.is(s.address, null)
  t.is(s.ifname, null)
  t.regex(s.reason ?? '', /wireguard-go not found.*apt-get install wireguard-go/)
  t.is(h.ifaces.length, 0, 'no interface is made')
  t.is(h.system.stats.crashes, 0, 'auto is not a failure')
})

test('--wireguard on without wireguard-go fails with ERR_MESH naming wireguard-go, and never makes an interface', async t => {
  t.throws(() => { requireWireguard(NO_WIREGUARD_GO) }, { instanceOf: MeshError, code: 'ERR_MESH', message: /--wireguard on, but WireGuard cannot run here: wireguard-go not found on PATH \(apt-get install wireguard-go/ })
  t.notThrows(() => { requireWireguard(() => ({ ok: true })) })

  const net = createMemoryNetwork()
  const { logger, lines } = recordingLogger()
  const h = await startHost(t, net, 'h1', { mode: 'on', available: NO_WIREGUARD_GO, logger })
  const crash = await retry(() => lines.find(l => l.msg === 'actor crashed' && l.actor === '/agent/wireguard'), { timeoutMs: 10_000, what: 'the wireguard actor fails' })
  const err = crash.err as { code?: string, message?: string }
  t.is(err.code, 'ERR_MESH')
  t.regex(err.message ?? '', /--wireguard on, but WireGuard cannot run here: wireguard-go not found on PATH/)
  t.true(h.system.stats.crashes >= 1)
  t.is(h.ifaces.length, 0, 'no interface is made')
})

test('only well-formed rows of live hosts, each speaking for itself, become peers', t => {
  const key = generateWgKeyPair().publicKey
  const self = 'a'.repeat(64)
  const good = { publicKey: key, address: meshAddress(CLUSTER, key), salt: 0, endpoint: '10.0.0.2:51820', meshPort: 4281 }
  const row = (owner: string, data: Record<string, unknown> | null, extra: Partial<WireguardRow> = {}): WireguardRow => ({ key: owner, owner, deleted: false, ownerDead: false, data, ...extra })
  const b = 'b'.repeat(64)
  t.is(desiredPeers([row(b, good)], self, CLUSTER).length, 1)
  t.is(desiredPeers([row(b, good, { ownerDead: true })], self, CLUSTER).length, 0, 'dead owner')
  t.is(desiredPeers([row(b, good, { key: 'c'.repeat(64) })], self, CLUSTER).length, 0, 'a row about another host')
  t.is(desiredPeers([row(self, good)], self, CLUSTER).length, 0, 'itself')
  t.is(desiredPeers([row(b, { ...good, address: meshAddress('other-cluster', key) })], self, CLUSTER).length, 0, 'address outside the cluster prefix')
  t.is(desiredPeers([row(b, { ...good, endpoint: 'evil; rm -rf /' })], self, CLUSTER).length, 0, 'bad endpoint')
  t.is(desiredPeers([row(b, { ...good, publicKey: 'short' })], self, CLUSTER).length, 0, 'bad key')
  t.is(desiredPeers([row(b, null, { deleted: true })], self, CLUSTER).length, 0, 'deleted')
})
