import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import test from 'ava'
import { MeshError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { meshAddress, meshPrefix } from '../../src/mesh/mesh-address.js'
import type { WgInterfaceStatus } from '../../src/mesh/wg-dump.js'
import { generateWgKeyPair } from '../../src/mesh/wg-keys.js'
import { initiatesHandshake } from '../../src/mesh/wg-peers.js'
import { createWireguardInterface, type WgPeerSpec } from '../../src/mesh/wireguard-interface.js'
import { socketPath } from '../../src/mesh/wireguard-process.js'
import { ip } from '../../src/vmm/ip-command.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'

const valid = { ifname: 'wgunit0', privateKey: generateWgKeyPair().privateKey, address: 'fd00::1', routePrefix: 'fd00::/48' }

test('bad init is a MeshError at creation', t => {
  for (const bad of [{ ifname: 'a-name-longer-than-15' }, { ifname: 'bad name' }, { privateKey: 'nope' }, { address: '10.0.0.1' }, { routePrefix: 'fd00::' }, { listenPort: 70000 }]) {
    t.throws(() => createWireguardInterface({ ...valid, ...bad }, { logger: silentLogger() }), { instanceOf: MeshError }, JSON.stringify(bad))
  }
})

test('before start: stop is a no-op, status is a MeshError, setPeers only remembers (and validates)', async t => {
  const wgi = createWireguardInterface(valid, { logger: silentLogger() })
  await t.notThrowsAsync(wgi.stop())
  await t.throwsAsync(wgi.status(), { instanceOf: MeshError })
  await t.notThrowsAsync(wgi.setPeers([{ publicKey: generateWgKeyPair().publicKey, endpoint: '10.0.0.1:1', allowedIps: [] }]))
  await t.throwsAsync(wgi.setPeers([{ publicKey: 'x', endpoint: '10.0.0.1:1', allowedIps: [] }]), { instanceOf: MeshError })
  t.is(wgi.pid(), undefined)
  t.is(wgi.restarts(), 0)
})

// --- Two hosts in two namespaces you create, each running its interface in a child process. ---

const wgTest = await requireParts(test, ['wireguard'])
const wgPingTest = await requireParts(test, ['wireguard', 'ping'])

interface Reply { id?: number, ok?: boolean, result?: unknown, error?: string, event?: string, info?: Record<string, unknown> }

/** A child `node wg-node.ts` inside a namespace, spoken to with JSON lines. */
function spawnNode (ns: string): { child: ChildProcess, call: <T>(op: string, args?: Record<string, unknown>) => Promise<T>, events: Reply[] } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import=tsx', 'test/mesh/helpers/wg-node.ts'], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` }
  })
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  const events: Reply[] = []
  let nextId = 1
  createInterface({ input: child.stdout! }).on('line', line => {
    const msg = JSON.parse(line) as Reply
    if (msg.event !== undefined) { events.push(msg); return }
    const p = pending.get(msg.id!)
    pending.delete(msg.id!)
    if (msg.ok === true) p?.resolve(msg.result)
    else p?.reject(new Error(msg.error))
  })
  child.on('exit', () => { for (const p of pending.values()) p.reject(new Error(`wg-node in ${ns} exited`)) })
  const call = async <T>(op: string, args: Record<string, unknown> = {}): Promise<T> => await new Promise<T>((resolve, reject) => {
    const id = nextId++
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
    child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n')
  })
  return { child, call, events }
}

const tag = process.pid.toString(36)
const cluster = `wgtest-${tag}`
const hosts = (['a', 'b'] as const).map((name, i) => {
  const keys = generateWgKeyPair()
  return {
    name, ns: `roost-wgt-${tag}-${name}`, veth: `rwv${tag}${name}`, ifname: `wgt${tag}${name}`, underlay: `10.78.0.${i + 1}`,
    keys, address: meshAddress(cluster, keys.publicKey), wgPid: 0, port: 0,
    node: undefined as ReturnType<typeof spawnNode> | undefined
  }
})
const [A, B] = hosts as [typeof hosts[0], typeof hosts[0]]
const ECHO_PORT = 7000

// A keeps B alive (keepalive 25 s); B has no keepalive for A, so after B's restart only the
// handshake priming of start() brings the session back before A's ~15 s rekey timeout.
const peerOf = (h: typeof A): WgPeerSpec => ({ publicKey: h.keys.publicKey, endpoint: `${h.underlay}:${h.port}`, allowedIps: [`${h.address}/128`], ...(h === B ? { keepaliveS: 25 } : {}) })
const peerIn = (s: WgInterfaceStatus, key: string) => s.peers.find(p => p.publicKey === key)
async function echoVia (from: typeof A, to: typeof A, text: string): Promise<string> {
  return await from.node!.call<string>('echo', { host: to.address, port: ECHO_PORT, text })
}

wgTest.before(async () => {
  for (const h of hosts) await ip(['netns', 'add', h.ns])
  await ip(['link', 'add', A.veth, 'netns', A.ns, 'type', 'veth', 'peer', 'name', B.veth, 'netns', B.ns])
  for (const h of hosts) {
    await ip(['-n', h.ns, 'addr', 'add', `${h.underlay}/24`, 'dev', h.veth])
    await ip(['-n', h.ns, 'link', 'set', 'dev', h.veth, 'up'])
    await ip(['-n', h.ns, 'link', 'set', 'dev', 'lo', 'up'])
    h.node = spawnNode(h.ns)
    await h.node.call('create', { init: { ifname: h.ifname, privateKey: h.keys.privateKey, address: h.address, routePrefix: meshPrefix(cluster), restartBackoffMs: [50, 100, 200, 400, 800, 1600], responderWaitMs: 2_000 } })
  }
})

wgTest.afterAlways(async () => {
  for (const h of hosts) {
    const node = h.node
    if (node !== undefined && node.child.exitCode === null && node.child.signalCode === null) {
      const gone = new Promise(resolve => node.child.once('exit', resolve))
      node.child.stdin!.end()
      await Promise.race([gone, new Promise(resolve => setTimeout(resolve, 5000))])
      if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL')
    }
    // Should the helper have died without stopping it, its wireguard-go would keep the namespace alive.
    if (h.wgPid > 0) { try { process.kill(h.wgPid, 'SIGKILL') } catch {} }
    await ip(['netns', 'del', h.ns]).catch(() => {})
  }
})

wgTest.serial('start (twice: idempotent), peers, handshake and TCP between mesh addresses', async t => {
  for (const h of hosts) {
    await h.node!.call('start')
    await h.node!.call('start')
    const info = await h.node!.call<{ pid: number, listenPort: number }>('info')
    t.true(info.pid > 0 && info.listenPort > 0)
    h.wgPid = info.pid
    h.port = info.listenPort
  }
  await A.node!.call('setPeers', { peers: [peerOf(B)] })
  await B.node!.call('setPeers', { peers: [peerOf(A)] })
  for (const h of hosts) await h.node!.call('listen', { host: h.address, port: ECHO_PORT })
  t.is(await retry(async () => await echoVia(A, B, 'hello over wg'), { timeoutMs: 15_000, what: 'echo A→B over the mesh' }), 'hello over wg')

  const sA = await A.node!.call<WgInterfaceStatus>('status')
  t.is(sA.publicKey, A.keys.publicKey)
  t.is(sA.listenPort, A.port)
  const pB = peerIn(sA, B.keys.publicKey)
  t.truthy(pB)
  t.true(pB!.latestHandshake > 0, 'handshake completed')
  t.deepEqual(pB!.allowedIps, [`${B.address}/128`])
  t.is(pB!.endpoint, `${B.underlay}:${B.port}`)
  t.true(pB!.rxBytes > 0 && pB!.txBytes > 0)

  await echoVia(A, B, 'x'.repeat(20_000))
  const pB2 = peerIn(await A.node!.call<WgInterfaceStatus>('status'), B.keys.publicKey)!
  t.true(pB2.txBytes > pB!.txBytes + 20_000, 'tx counter grew by at least the payload')
  t.true(pB2.rxBytes > pB!.rxBytes, 'rx counter grew')
})

wgPingTest.serial('ICMPv6 crosses the tunnel too (ping -6 between mesh addresses)', async t => {
  const ok = await retry(async () => await new Promise<boolean>(resolve => {
    spawn('ip', ['netns', 'exec', A.ns, 'ping', '-6', '-c', '1', '-W', '2', B.address], { stdio: 'ignore' }).on('exit', code => { resolve(code === 0) })
  }), { timeoutMs: 10_000, what: 'ping6 A→B' })
  t.true(ok)
})

wgTest.serial('peers both sides add at once: only the side with the smaller key starts the handshake, the other holds its keepalive off a while', async t => {
  const [active, passive] = initiatesHandshake(A.keys.publicKey, B.keys.publicKey) ? [A, B] : [B, A]
  await Promise.all(hosts.map(async h => { await h.node!.call('setPeers', { peers: [] }) }))
  const kept = (h: typeof A): WgPeerSpec => ({ ...peerOf(h), keepaliveS: 15 })
  await Promise.all([A.node!.call('setPeers', { peers: [kept(B)] }), B.node!.call('setPeers', { peers: [kept(A)] })])
  t.is(peerIn(await passive.node!.call<WgInterfaceStatus>('status'), active.keys.publicKey)?.keepaliveS, null, 'the other side holds its keepalive off (it would start a handshake too)')
  t.is(peerIn(await active.node!.call<WgInterfaceStatus>('status'), passive.keys.publicKey)?.keepaliveS, 15)
  await retry(async () => {
    const p = peerIn(await passive.node!.call<WgInterfaceStatus>('status'), active.keys.publicKey)
    const a = peerIn(await active.node!.call<WgInterfaceStatus>('status'), passive.keys.publicKey)
    return (p?.latestHandshake ?? 0) > 0 && (a?.latestHandshake ?? 0) > 0 && p?.keepaliveS === 15
  }, { timeoutMs: 20_000, what: 'a handshake on both sides, then the keepalive on' })
  t.is(await retry(async () => await echoVia(passive, active, 'both ways'), { timeoutMs: 15_000, what: 'echo over the new tunnel' }), 'both ways')
  await A.node!.call('setPeers', { peers: [peerOf(B)] })
  await B.node!.call('setPeers', { peers: [peerOf(A)] })
})

wgTest.serial('an initiation the other side dropped (it did not know this side yet) is sent again by re-creating the peer', async t => {
  const [active, passive] = initiatesHandshake(A.keys.publicKey, B.keys.publicKey) ? [A, B] : [B, A]
  await Promise.all(hosts.map(async h => { await h.node!.call('setPeers', { peers: [] }) }))
  const kept = (h: typeof A): WgPeerSpec => ({ ...peerOf(h), keepaliveS: 15 })
  await active.node!.call('setPeers', { peers: [kept(passive)] })
  await retry(async () => (await active.node!.call<{ handshakeRetries: number }>('info')).handshakeRetries >= 1, { timeoutMs: 10_000, what: 'a retry while the other side does not know this one' })
  // The other side holds its own initiation for 2 s here (responderWaitMs): the next retry is what completes the handshake.
  await passive.node!.call('setPeers', { peers: [kept(active)] })
  await retry(async () => (peerIn(await active.node!.call<WgInterfaceStatus>('status'), passive.keys.publicKey)?.latestHandshake ?? 0) > 0, { timeoutMs: 20_000, what: 'the handshake' })
  t.true((await active.node!.call<{ handshakeRetries: number }>('info')).handshakeRetries >= 1)
  await A.node!.call('setPeers', { peers: [peerOf(B)] })
  await B.node!.call('setPeers', { peers: [peerOf(A)] })
})

wgTest.serial('kill -9 of wireguard-go: restart event, same port, peers/address back, traffic again', async t => {
  const before = await B.node!.call<{ pid: number, listenPort: number }>('info')
  process.kill(before.pid, 'SIGKILL')
  await retry(() => B.node!.events.some(e => e.event === 'exit'), { what: 'exit event' })
  await retry(() => B.node!.events.some(e => e.event === 'restart'), { timeoutMs: 15_000, what: 'restart event' })
  const after = await B.node!.call<{ pid: number, restarts: number, listenPort: number }>('info')
  t.not(after.pid, before.pid)
  t.is(after.restarts, 1)
  t.is(after.listenPort, before.listenPort, 'the remembered port is reused')
  B.wgPid = after.pid
  const exitEvent = B.node!.events.find(e => e.event === 'exit')!
  t.is(exitEvent.info?.signal, 'SIGKILL')
  const sB = await B.node!.call<WgInterfaceStatus>('status')
  t.deepEqual(sB.peers.map(p => p.publicKey), [A.keys.publicKey], 'peers reapplied')
  // No traffic sent yet: the restarted side handshakes by itself (well before A's rekey would).
  await retry(async () => (peerIn(await B.node!.call<WgInterfaceStatus>('status'), A.keys.publicKey)?.latestHandshake ?? 0) > 0, { timeoutMs: 8_000, what: 'handshake initiated by the restarted side' })
  const addrs = await ip(['-n', B.ns, '-6', 'addr', 'show', 'dev', B.ifname])
  t.true(addrs.includes(`${B.address}/128`), 'address reapplied')
  const routes = await ip(['-n', B.ns, '-6', 'route', 'show', 'dev', B.ifname])
  t.true(routes.includes(meshPrefix(cluster).replace('/48', '')), 'route reapplied')
  t.is(await retry(async () => await echoVia(A, B, 'after restart'), { timeoutMs: 15_000, what: 'echo A→B after restart' }), 'after restart')
  t.is(await retry(async () => await echoVia(B, A, 'reverse'), { timeoutMs: 15_000, what: 'echo B→A after restart' }), 'reverse')
})

wgTest.serial('setPeers removal makes the peer disappear from the dump', async t => {
  await A.node!.call('setPeers', { peers: [] })
  t.deepEqual((await A.node!.call<WgInterfaceStatus>('status')).peers, [])
  t.is((await B.node!.call<WgInterfaceStatus>('status')).peers.length, 1, 'the other side is untouched')
  await t.throwsAsync(echoVia(A, B, 'no route'))
  await A.node!.call('setPeers', { peers: [peerOf(B)] })
  t.is(await retry(async () => await echoVia(A, B, 'back'), { timeoutMs: 15_000, what: 'echo after re-adding' }), 'back')
})

wgTest.serial('stop leaves no interface, no control socket and no process; stop twice is fine', async t => {
  for (const h of hosts) {
    const { pid } = await h.node!.call<{ pid: number }>('info')
    await h.node!.call('stop')
    await h.node!.call('stop')
    t.false(existsSync(socketPath(h.ifname)), `${socketPath(h.ifname)} removed`)
    await t.throwsAsync(ip(['-n', h.ns, 'link', 'show', 'dev', h.ifname]), undefined, 'interface removed')
    t.throws(() => process.kill(pid, 0), undefined, 'wireguard-go exited')
    t.is((await h.node!.call<{ pid: number | null }>('info')).pid, null)
    h.wgPid = 0
  }
})

wgTest.serial('respawns that keep failing end in an error event; start() afterwards recovers', async t => {
  // A fresh interface object whose first respawn waits long enough for the port to be taken. 2 s: with
  // 500 ms the error event once never came under a full suite's load, most likely because a respawn
  // took the port back before the holder had bound it.
  await A.node!.call('create', { init: { ifname: A.ifname, privateKey: A.keys.privateKey, address: A.address, routePrefix: meshPrefix(cluster), restartBackoffMs: [2000, 50, 50] } })
  await A.node!.call('setPeers', { peers: [peerOf(B)] })
  await A.node!.call('start')
  const { pid, listenPort } = await A.node!.call<{ pid: number, listenPort: number }>('info')
  A.wgPid = pid
  A.node!.events.length = 0
  // Whoever takes the remembered port makes every respawn's `wg setconf` fail.
  await A.node!.call('killAndHoldUdp', { pid, port: listenPort })
  const error = await retry(() => A.node!.events.find(e => e.event === 'error'), { timeoutMs: 20_000, what: 'error event' })
  t.is(error.info?.attempts, 3)
  t.true(A.node!.events.some(e => e.event === 'exit'))
  t.false(A.node!.events.some(e => e.event === 'restart'))
  t.is((await A.node!.call<{ pid: number | null }>('info')).pid, null)
  await A.node!.call('releaseUdp')
  await A.node!.call('start')
  t.is(A.node!.events.filter(e => e.event === 'restart').length, 0, 'an explicit start is no restart')
  const again = await A.node!.call<{ pid: number, listenPort: number }>('info')
  A.wgPid = again.pid
  t.is(again.listenPort, listenPort)
  t.is((await A.node!.call<WgInterfaceStatus>('status')).peers.length, 1, 'the remembered peers are applied on start')
  await A.node!.call('stop')
  A.wgPid = 0
})

wgTest.serial('start removes a stale wireguard-go of the same name (a crashed agent left it running)', async t => {
  const stale = spawn('ip', ['netns', 'exec', B.ns, 'wireguard-go', '-f', B.ifname], { stdio: 'ignore', env: { ...process.env, WG_PROCESS_FOREGROUND: '1' } })
  const staleGone = new Promise(resolve => stale.once('exit', resolve))
  t.teardown(() => { if (stale.exitCode === null && stale.signalCode === null) stale.kill('SIGKILL') })
  await retry(() => existsSync(socketPath(B.ifname)), { what: 'stale socket' })
  await B.node!.call('start')
  await staleGone
  const info = await B.node!.call<{ pid: number }>('info')
  B.wgPid = info.pid
  t.not(info.pid, stale.pid)
  t.is((await B.node!.call<WgInterfaceStatus>('status')).publicKey, B.keys.publicKey)
  await B.node!.call('stop')
  B.wgPid = 0
  t.false(existsSync(socketPath(B.ifname)))
})
