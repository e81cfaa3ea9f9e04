import test, { type ExecutionContext } from 'ava'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { controlCall } from '../../src/lab/lab-agents.js'
import type { MeshView } from '../../src/api/control-api.js'
import { createLab, type Lab, type LabHost } from '../../src/lab/lab.js'
import { silentLogger } from '../../src/log/logger.js'
import { meshAddress } from '../../src/mesh/mesh-address.js'
import { parseWgDump } from '../../src/mesh/wg-dump.js'
import { BIN, roost, tempDir } from '../helpers/cli.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'

const meshTest = (await requireParts(test, ['lab', 'wireguard'])).serial

/** One control call on a lab host (bounded well above the asks' own timeouts). */
async function call<T> (h: LabHost, fn: Parameters<typeof controlCall<T>>[1]): Promise<T> {
  return await controlCall(h.socketPath, fn, 60_000)
}

const meshOf = async (h: LabHost): Promise<MeshView> => await call(h, async api => await api.mesh())

async function wgDump (lab: Lab, h: LabHost, ifname: string): Promise<ReturnType<typeof parseWgDump>> {
  return parseWgDump(await lab.exec(h.name, 'wg', ['show', ifname, 'dump']))
}

/** Every host has a tunnel with a completed handshake and a mesh connection to each other host. */
async function meshFormed (lab: Lab, hosts: LabHost[]): Promise<Map<string, MeshView>> {
  return await retry(async () => {
    const views = new Map<string, MeshView>()
    for (const h of hosts) {
      const v = await meshOf(h)
      if (v.mode !== 'wireguard' || v.peers.length !== hosts.length - 1) return undefined
      if (!v.peers.every(p => p.latestHandshake > 0 && p.path === 'wireguard')) return undefined
      views.set(h.name, v)
    }
    return views
  }, { timeoutMs: 30_000, intervalMs: 200, what: 'every pair of hosts to have a tunnel and a mesh connection' })
}

async function startLab (t: ExecutionContext, hosts: number): Promise<Lab> {
  const dir = await tempDir(t, 'roost-mesh-')
  const lab = createLab({ hosts, binPath: BIN, dir, logLevel: 'debug', agentArgs: ['--driver', 'process', '--wireguard', 'on'] }, { logger: silentLogger() })
  t.teardown(async () => { await lab.stop() })
  await lab.start()
  await lab.waitForMembership()
  return lab
}

meshTest('a 3-host lab forms the mesh; messages travel through the tunnels (counters), survive a wireguard-go kill, and a dead host leaves and rejoins the peers', async t => {
  t.timeout(5 * 60_000)
  const lab = await startLab(t, 3)
  const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost]
  const views = await meshFormed(lab, [h1, h2, h3])
  const v1 = views.get('h1') as MeshView
  const v2 = views.get('h2') as MeshView
  const v3 = views.get('h3') as MeshView
  t.not(v1.address, v2.address)
  t.true(v1.address?.startsWith(v1.prefix.split('::')[0] as string), `${v1.address} is in ${v1.prefix}`)

  // Where the start went (the mesh bench prints these per host): each step once, in time order.
  // A peer's mesh connection can be up (the peer saw the handshake and dialled) before this host's
  // next poll of its own dump records the handshake: the timeline is read until it has caught up.
  const wanted = [['dht.announced', 1], ['transport.started', 1], ['stream.peers', 1], ['agent.control', 1], ['wireguard.up', 1], ['wireguard.rows', 2], ['wireguard.peers', 2], ['wireguard.handshakes', 2], ['mesh.peers', 2]] as const
  let timeline = await call(h1, async api => await api.timeline())
  await retry(async () => {
    timeline = await call(h1, async api => await api.timeline())
    return wanted.every(([event, n]) => timeline.some(m => m.event === event && m.n >= n))
  }, { timeoutMs: 10_000, what: 'h1\'s timeline with every step' }).catch(() => {})
  t.is(timeline[0]?.event, 'process')
  t.deepEqual(timeline.map(m => m.at), [...timeline.map(m => m.at)].sort((a, b) => a - b))
  for (const [event, n] of wanted) {
    t.true(timeline.some(m => m.event === event && m.n >= n), `h1's timeline has ${event} ≥ ${n}: ${JSON.stringify(timeline.map(m => `${m.event}=${m.n}`))}`)
  }

  const members = JSON.parse((await roost(['members', '--json', '--data-dir', h1.dataDir])).stdout) as Array<{ name: string, path: string }>
  t.deepEqual(members.filter(m => m.name !== 'h1').map(m => m.path), ['wireguard', 'wireguard'], '`roost members` shows the path')
  const meshCli = await roost(['mesh', '--data-dir', h1.dataDir])
  t.is(meshCli.code, 0, meshCli.stderr)
  t.regex(meshCli.stdout, /^h2\s+[0-9a-f]{12}\s+fd[0-9a-f:]+\s+10\.77\.0\.\d+:\d+\s+\d+s ago\s+[\d.]+ \w+\s+[\d.]+ \w+\s+wireguard$/m)

  // Messages go through the tunnel: the mesh path's frame counter and WireGuard's own byte counters both move.
  const ifname = v1.ifname as string
  const before = await wgDump(lab, h1, ifname)
  const peer2 = (d: ReturnType<typeof parseWgDump>): { rx: number, tx: number } => {
    const p = d.peers.find(x => x.publicKey === v2.publicKey)
    return { rx: p?.rxBytes ?? 0, tx: p?.txBytes ?? 0 }
  }
  const payload = 'x'.repeat(1000)
  for (let i = 0; i < 40; i++) {
    const r = await call(h1, async api => await api.send('h2/agent', { type: 'agent.ping', seq: i, payload }))
    t.is((r.reply as { seq: number }).seq, i)
  }
  const after = await wgDump(lab, h1, ifname)
  const s1 = (await meshOf(h1)).stats
  t.true(peer2(after).tx - peer2(before).tx >= 40 * 1000, `tunnel tx to h2 grew by ${peer2(after).tx - peer2(before).tx} bytes`)
  t.true(peer2(after).rx - peer2(before).rx >= 40 * 1000, 'and the replies came back through it')
  t.true((s1.framesOut.wireguard ?? 0) >= 40, `frames over wireguard: ${s1.framesOut.wireguard ?? 0}`)

  // wireguard-go killed by hand: restarted with its peers; messages in flight meanwhile are not lost.
  const oldPid = v1.pid as number
  const inflight = Array.from({ length: 100 }, async (_, i) => await call(h1, async api => await api.send('h2/agent', { type: 'agent.ping', seq: 1000 + i }, { timeoutMs: 20_000 })))
  process.kill(oldPid, 'SIGKILL')
  const replies = await Promise.all(inflight)
  t.deepEqual(replies.map(r => (r.reply as { seq: number }).seq), Array.from({ length: 100 }, (_, i) => 1000 + i), 'every message of the switch answered once')
  const restarted = await retry(async () => {
    const v = await meshOf(h1)
    return v.pid !== null && v.pid !== oldPid && v.restarts >= 1 && v.peers.length === 2 && v.peers.every(p => p.path === 'wireguard') ? v : undefined
  }, { timeoutMs: 45_000, intervalMs: 200, what: 'wireguard-go restarted with its peers and the mesh connections back' }).catch(async (err: unknown) => {
    for (const h of [h1, h2, h3]) t.log(h.name, JSON.stringify(await meshOf(h).catch(e => String(e))))
    // Whether the killed process is gone, a zombie its parent has not reaped, or stuck (D state).
    const status = await readFile(`/proc/${oldPid}/status`, 'utf8').catch((e: Error) => e.message)
    t.log(`pid ${oldPid} after SIGKILL:`, status.split('\n').filter(l => /^(Name|State|PPid):/.test(l)).join(' ') || status)
    throw err
  })
  t.is((await wgDump(lab, h1, ifname)).peers.length, 2, 'peers reapplied to the new wireguard-go')
  t.true(restarted.restarts >= 1)
  const r = await call(h1, async api => await api.send('h3/agent', { type: 'agent.ping', seq: 7 }))
  t.is((r.reply as { seq: number }).seq, 7)

  // A killed host's peer is removed, and re-added when it returns.
  await lab.killAgent('h3')
  await retry(async () => !(await wgDump(lab, h1, ifname)).peers.some(p => p.publicKey === v3.publicKey), { timeoutMs: 30_000, intervalMs: 250, what: 'h3 removed from h1\'s peers' })
  t.is((await meshOf(h1)).peers.length, 1)
  await lab.startAgent('h3')
  await meshFormed(lab, [h1, h2, h3])
  t.true((await wgDump(lab, h1, ifname)).peers.some(p => p.publicKey === v3.publicKey && p.latestHandshake > 0), 'h3 back with the same key and a fresh handshake')
})

meshTest('a host with the wrong secret gets no peer entry and no actor delivery', async t => {
  t.timeout(3 * 60_000)
  const lab = await startLab(t, 2)
  const [h1, h2] = lab.hosts as [LabHost, LabHost]
  await meshFormed(lab, [h1, h2])
  const x = await lab.addHost('x', { secret: 'not-the-cluster-secret' })
  const vx = await retry(async () => { const v = await meshOf(x); return v.mode === 'wireguard' ? v : undefined }, { timeoutMs: 20_000, what: 'the foreign host\'s own tunnel end' })
  const h1Id = (await call(h1, async api => await api.info())).hostId as string
  const sent = await roost(['send', `${h1Id}/agent`, '{"type":"agent.ping","seq":1}', '--data-dir', x.dataDir, '--timeout', '8000'], { timeoutMs: 30_000 })
  t.not(sent.code, 0, 'the foreign host cannot deliver an actor message')
  t.regex(sent.stderr, /ERR_ADMISSION|ERR_HOST_UNREACHABLE|ERR_ASK_TIMEOUT/)
  for (const h of [h1, h2]) {
    const dump = await wgDump(lab, h, (await meshOf(h)).ifname as string)
    t.false(dump.peers.some(p => p.publicKey === vx.publicKey), `${h.name} has no peer entry for the foreign host`)
    t.is(dump.peers.length, 1)
  }
  t.is(vx.peers.length, 0, 'and it has none for the cluster\'s hosts')
  const members = await call(h1, async api => await api.members())
  t.false(members.some(m => m.name === 'x'))
})

meshTest('two hosts whose mesh addresses really collide: the larger host id moves to its next salt, and both are reachable over WireGuard after', async t => {
  t.timeout(4 * 60_000)
  const dir = await tempDir(t, 'roost-mesh-collide-')
  // ROOST_ENABLE_FAULTS lets a host claim a given address at salt 0 (`faultAddress` in its wireguard.json):
  // a collision no two real keys would give in 80 bits of hash, made on purpose.
  const lab = createLab({ hosts: 1, binPath: BIN, dir, logLevel: 'debug', env: { ROOST_ENABLE_FAULTS: '1' }, agentArgs: ['--driver', 'process', '--wireguard', 'on'] }, { logger: silentLogger() })
  t.teardown(async () => { await lab.stop() })
  await lab.start()
  const h1 = lab.host('h1')
  const first = await retry(async () => { const v = await meshOf(h1); return v.mode === 'wireguard' ? v : undefined }, { timeoutMs: 30_000, what: 'h1\'s tunnel end' })
  const taken = first.address as string

  const h2 = await lab.addHost('h2', { start: false })
  await writeFile(join(h2.dataDir, 'wireguard.json'), JSON.stringify({ salt: 0, listenPort: 0, faultAddress: taken }) + '\n', { mode: 0o600 })
  await lab.startAgent('h2')
  await lab.waitForMembership()
  const id1 = (await call(h1, async api => await api.info())).hostId as string
  const id2 = (await call(h2, async api => await api.info())).hostId as string
  const [mover, keeper] = id1 > id2 ? [h1, h2] : [h2, h1]
  t.log(`h1 ${id1.slice(0, 12)}, h2 ${id2.slice(0, 12)}: ${mover.name} has the larger id and must move`)

  const moved = await retry(async () => {
    const v = await meshOf(mover)
    return v.mode === 'wireguard' && v.address !== taken ? v : undefined
  }, { timeoutMs: 60_000, intervalMs: 200, what: `${mover.name} to move off ${taken}` })
  // Both interfaces came up with the same address for real before the move.
  for (const h of [h1, h2]) t.regex(await readFile(h.logFile, 'utf8'), new RegExp(`"address":"${taken}"[^\n]*"msg":"wireguard up`), `${h.name} ran ${taken}`)
  t.regex(await readFile(h2.logFile, 'utf8'), /fault injection: claiming a given mesh address at salt 0/)
  t.is(moved.address, meshAddress('lab', moved.publicKey as string, 1), 'the next salt of its own key')
  t.is((JSON.parse(await readFile(join(mover.dataDir, 'wireguard.json'), 'utf8')) as { salt: number }).salt, 1, 'the salt is persisted')
  t.regex(await readFile(mover.logFile, 'utf8'), new RegExp(`mesh address ${taken} collides with another host's; moving to salt 1`))
  const kept = await meshOf(keeper)
  t.is(kept.address, taken, `${keeper.name} keeps the address`)
  t.is((JSON.parse(await readFile(join(keeper.dataDir, 'wireguard.json'), 'utf8')) as { salt: number }).salt, 0)
  t.regex(await lab.exec(mover.name, 'ip', ['-6', '-o', 'addr', 'show', 'dev', moved.ifname as string]), new RegExp(`inet6 ${moved.address as string}/128`), 'the moved interface carries the new address')

  // Reachable both ways through the tunnel at the new addresses.
  const views = await meshFormed(lab, [h1, h2])
  t.is(views.get(keeper.name)?.peers[0]?.address, moved.address ?? undefined, `${keeper.name}'s peer entry follows the move`)
  const dump = await wgDump(lab, keeper, kept.ifname as string)
  t.deepEqual(dump.peers.map(p => p.allowedIps), [[`${moved.address as string}/128`]])
  for (const [from, to] of [[h1, h2], [h2, h1]] as const) {
    const before = (await meshOf(from)).stats.framesOut.wireguard ?? 0
    for (let i = 0; i < 5; i++) {
      const r = await call(from, async api => await api.send(`${to.name}/agent`, { type: 'agent.ping', seq: i }))
      t.is((r.reply as { seq: number }).seq, i)
    }
    const after = (await meshOf(from)).stats.framesOut.wireguard ?? 0
    t.true(after - before >= 5, `${from.name} → ${to.name} over wireguard: ${after - before} frames`)
  }
})
