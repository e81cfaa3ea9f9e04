import test, { type ExecutionContext } from 'ava'
import { createCodec } from '../../src/codec/codec.js'
import { silentLogger } from '../../src/log/logger.js'
import { deriveClusterKeys } from '../../src/transport/cluster-keys.js'
import { createMeshPath, type MeshPath } from '../../src/transport/mesh-path.js'
import { createMeshTransport, type MeshTransport, type MeshTransportInit } from '../../src/transport/mesh-transport.js'
import { SESSION_ACK, SESSION_DATA, SESSION_DATA_HEADER_BYTES } from '../../src/transport/session.js'
import { createMemoryNetwork, type MemoryNetwork, type MemoryTransportInit } from '../../src/transport/memory-transport.js'
import type { PeerInfo } from '../../src/transport/transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'

interface Side { id: string, transport: MeshTransport, mesh: MeshPath, got: string[] }

async function side (t: ExecutionContext, net: MemoryNetwork, id: string, init: MeshTransportInit = {}): Promise<Side> {
  const mesh = createMeshPath({ hostId: id, keys: deriveClusterKeys('c', 's'), port: 0 }, { logger: silentLogger(), codec: createCodec() })
  const transport = createMeshTransport({ ackTimeoutMs: 500, ...init }, { logger: silentLogger(), stream: net.transport({ hostId: id, name: id.slice(0, 4) }), mesh })
  await transport.start()
  await mesh.start('::1')
  t.teardown(async () => { await transport.stop() })
  const got: string[] = []
  transport.on('frame', (_h, p) => { got.push(p.toString()) })
  return { id, transport, mesh, got }
}

async function pair (t: ExecutionContext, net = createMemoryNetwork(), initB: MeshTransportInit = {}): Promise<[Side, Side]> {
  const [x, y] = [randomHostId(), randomHostId()].sort() as [string, string]
  const a = await side(t, net, x)
  const b = await side(t, net, y, initB)
  a.transport.setRoutes(new Map([[b.id, { address: '::1', port: b.mesh.listening()?.port as number }]]))
  b.transport.setRoutes(new Map([[a.id, { address: '::1', port: a.mesh.listening()?.port as number }]]))
  return [a, b]
}

test('messages take the stream until the mesh connection is up, then the tunnel path, in order throughout', async t => {
  const [a, b] = await pair(t)
  const sent: string[] = []
  for (let i = 0; i < 50; i++) { sent.push(`m${i}`); a.transport.send(b.id, Buffer.from(`m${i}`)) }
  await retry(() => a.transport.pathTo(b.id) === 'wireguard', { what: 'mesh path up' })
  for (let i = 50; i < 100; i++) { sent.push(`m${i}`); a.transport.send(b.id, Buffer.from(`m${i}`)) }
  await retry(() => b.got.length === 100, { what: 'all delivered' })
  t.deepEqual(b.got, sent)
  const s = a.transport.stats()
  t.true(s.framesOut.wireguard >= 50, `over the tunnel path: ${s.framesOut.wireguard}`)
  t.true(s.framesOut.hyperswarm >= 1)
  t.true(s.switches >= 1)
  await retry(() => a.transport.session.unacked(b.id) === 0, { what: 'all acknowledged' })
})

test('a path switch in the middle of traffic loses nothing and duplicates nothing', async t => {
  const [a, b] = await pair(t)
  await retry(() => a.transport.pathTo(b.id) === 'wireguard' && b.transport.pathTo(a.id) === 'wireguard', { what: 'mesh path up' })
  const sent: string[] = []
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 2_000; i++) {
      const m = `r${round}-${i}`
      sent.push(m)
      a.transport.send(b.id, Buffer.from(m))
      if (i === 1_000) a.mesh.drop(b.id, 'test: tunnel gone mid-burst')
    }
    await new Promise(resolve => setImmediate(resolve))
    await retry(() => a.transport.pathTo(b.id) === 'wireguard', { timeoutMs: 10_000, what: 'mesh path back' })
  }
  await retry(() => b.got.length >= sent.length, { timeoutMs: 20_000, what: 'everything delivered' })
  await new Promise(resolve => setTimeout(resolve, 100))
  t.is(b.got.length, sent.length, 'no duplicates')
  t.deepEqual(b.got, sent, 'in order')
  t.true(a.transport.stats().switches >= 5)
})

test('when the other end closes the tunnel path, messages go over the stream', async t => {
  const [a, b] = await pair(t)
  await retry(() => a.transport.pathTo(b.id) === 'wireguard' && b.transport.pathTo(a.id) === 'wireguard', { what: 'mesh path up' })
  b.mesh.setRoutes(new Map())
  a.transport.send(b.id, Buffer.from('after the tunnel closed'))
  await retry(() => b.got.includes('after the tunnel closed'), { timeoutMs: 10_000, what: 'delivered over the stream' })
  t.is(a.transport.pathTo(b.id), 'hyperswarm')
  t.is(b.got.filter(m => m === 'after the tunnel closed').length, 1)
})

test('a host declared down: what is in flight to it fails with ERR_HOST_UNREACHABLE at once, its tunnel path closes, a later send gets through', async t => {
  const net = createMemoryNetwork()
  const [a, b] = await pair(t, net)
  await retry(() => a.transport.pathTo(b.id) === 'wireguard' && b.transport.pathTo(a.id) === 'wireguard', { what: 'mesh path up' })
  const disconnects: Array<[string, string | undefined]> = []
  a.transport.on('disconnect', (host, reason) => { disconnects.push([host, (reason as { code?: string } | undefined)?.code]) })
  const failures: string[] = []
  // The tunnel path goes and the stream drops everything: the message stays unacknowledged.
  net.setFilter(() => false)
  a.mesh.drop(b.id, 'test: tunnel gone')
  a.transport.send(b.id, Buffer.from('in flight'), (e) => { failures.push((e as { code?: string }).code ?? e.message) })
  t.is(a.transport.session.unacked(b.id), 1)
  await retry(() => a.transport.pathTo(b.id) === 'wireguard', { timeoutMs: 10_000, what: 'mesh path back' })

  a.transport.hostDown?.(b.id, 'test: declared dead')
  t.deepEqual(failures, ['ERR_HOST_UNREACHABLE'], 'failed at once, once')
  t.is(a.transport.session.unacked(b.id), 0, 'nothing left waiting for a dead host')
  t.false(a.mesh.connected(b.id), 'the tunnel path is closed')
  t.deepEqual(disconnects, [[b.id, 'ERR_HOST_UNREACHABLE']])

  net.setFilter(undefined)
  a.transport.send(b.id, Buffer.from('later'))
  await retry(() => b.got.includes('later'), { timeoutMs: 10_000, what: 'a later send delivered' })
  t.false(b.got.includes('in flight'))
})

test('an admitted peer flooding frames ahead of a gap: the receiver holds at most its reorder budget, counts it, drops the tunnel to it, and still takes its messages', async t => {
  const budget = 256 * 1024
  const [a, b] = await pair(t, createMemoryNetwork(), { maxReorderBytes: budget })
  await retry(() => a.transport.pathTo(b.id) === 'wireguard' && b.transport.pathTo(a.id) === 'wireguard', { what: 'mesh path up' })
  const downs: string[] = []
  b.mesh.on('down', (_h, reason) => { downs.push(reason) })
  // Raw session frames over the tunnel, bypassing a's session: sequence 1 never comes.
  const payload = Buffer.alloc(16 * 1024, 1)
  for (let seq = 2; seq < 200; seq++) {
    const f = Buffer.alloc(SESSION_DATA_HEADER_BYTES + payload.byteLength)
    f[0] = SESSION_DATA
    f.writeUInt32BE(99, 1)
    f.writeUInt32BE(seq, 5)
    f.writeUInt32BE(1, 9)
    payload.copy(f, SESSION_DATA_HEADER_BYTES)
    a.mesh.send(b.id, f)
  }
  await retry(() => b.transport.stats().session.reorderOverflows >= 1, { what: 'an overflow' })
  t.true(b.transport.stats().session.reorderBytes <= budget)
  await retry(() => downs.some(r => r.includes('reorder budget')), { what: 'the tunnel to the peer dropped' })
  t.deepEqual(b.got, [])
  a.transport.send(b.id, Buffer.from('after'))
  await retry(() => b.got.includes('after'), { timeoutMs: 10_000, what: 'a real message delivered' })
})

/**
 * A side whose stream transport's sends are recorded (the first byte of each frame) and whose
 * `connect` events wait until `connect()` is called: messages sent before it take the session.
 */
async function recordedSide (t: ExecutionContext, net: MemoryNetwork, id: string, opts: { mesh: boolean, stream?: Partial<MemoryTransportInit> }): Promise<Side & { tags: number[], connect: () => void }> {
  const stream = net.transport({ hostId: id, name: id.slice(0, 4), ...opts.stream })
  const tags: number[] = []
  const send = stream.send.bind(stream)
  stream.send = (host, payload, onFailure, token) => { tags.push(payload[0] as number); send(host, payload, onFailure, token) }
  const held: Array<() => void> = []
  let connected = false
  const on = stream.on.bind(stream)
  stream.on = (event, listener) => {
    if (event !== 'connect') { on(event, listener); return }
    on('connect', (peer: PeerInfo) => {
      if (connected) (listener as (p: PeerInfo) => void)(peer)
      else held.push(() => { (listener as (p: PeerInfo) => void)(peer) })
    })
  }
  const mesh = createMeshPath({ hostId: id, keys: deriveClusterKeys('c', 's'), port: 0 }, { logger: silentLogger(), codec: createCodec() })
  const transport = createMeshTransport({ ackTimeoutMs: 500 }, { logger: silentLogger(), stream, ...(opts.mesh ? { mesh } : {}) })
  await transport.start()
  if (opts.mesh) await mesh.start('::1')
  t.teardown(async () => { await transport.stop(); if (!opts.mesh) await mesh.stop() })
  const got: string[] = []
  transport.on('frame', (_h, p) => { got.push(p.toString()) })
  return { id, transport, mesh, got, tags, connect: () => { connected = true; for (const fn of held.splice(0)) fn() } }
}

const isSessionTag = (tag: number): boolean => tag === SESSION_DATA || tag === SESSION_ACK

test('between a host without WireGuard and one with it, messages go without the session header once the session has nothing unacknowledged, in order throughout, both ways', async t => {
  const net = createMemoryNetwork()
  const a = await recordedSide(t, net, randomHostId(), { mesh: false, stream: { streamOnly: true } })
  const b = await recordedSide(t, net, randomHostId(), { mesh: true })
  const sent: string[] = []
  for (let i = 0; i < 50; i++) { sent.push(`m${i}`); a.transport.send(b.id, Buffer.from(`m${i}`)) }
  a.connect()
  b.connect()
  for (let i = 50; i < 100; i++) { sent.push(`m${i}`); a.transport.send(b.id, Buffer.from(`m${i}`)) }
  await retry(() => a.transport.session.unacked(b.id) === 0, { what: 'the session frames acknowledged' })
  for (let i = 100; i < 200; i++) { sent.push(`m${i}`); a.transport.send(b.id, Buffer.from(`m${i}`)) }
  b.transport.send(a.id, Buffer.from('back'))
  await retry(() => b.got.length === 200 && a.got.length === 1, { what: 'all delivered' })
  t.deepEqual(b.got, sent)
  t.deepEqual(a.got, ['back'])
  const data = a.tags.filter(tag => tag !== SESSION_ACK)
  const firstDirect = data.findIndex(tag => !isSessionTag(tag))
  t.true(firstDirect >= 50, `the first 50 (sent before the connection) in session frames: ${firstDirect}`)
  t.false(data.slice(firstDirect).some(isSessionTag), 'no session frame after the first direct one')
  t.is(data.length - firstDirect, 200 - firstDirect, 'each message one frame')
  t.false(isSessionTag(b.tags.at(-1) as number), 'b, seeing a has no WireGuard, sends without the header too')
  t.is(b.transport.pathTo(a.id), 'hyperswarm')
})

test('a host whose hello does not offer direct frames (one from before) gets session frames only', async t => {
  const net = createMemoryNetwork()
  const a = await recordedSide(t, net, randomHostId(), { mesh: false, stream: { streamOnly: true } })
  const old = await recordedSide(t, net, randomHostId(), { mesh: false, stream: { streamOnly: true, directFrames: false } })
  a.connect()
  old.connect()
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) a.transport.send(old.id, Buffer.from(`r${round}-${i}`))
    await retry(() => a.transport.session.unacked(old.id) === 0, { what: 'acknowledged' })
  }
  await retry(() => old.got.length === 60, { what: 'all delivered' })
  t.true(a.tags.length >= 60)
  t.true(a.tags.every(isSessionTag), 'session frames only')
})

test('two hosts with WireGuard keep the session on the stream too (a tunnel may come up)', async t => {
  const net = createMemoryNetwork()
  const a = await recordedSide(t, net, randomHostId(), { mesh: true })
  const b = await recordedSide(t, net, randomHostId(), { mesh: true })
  a.connect()
  b.connect()
  for (let i = 0; i < 20; i++) a.transport.send(b.id, Buffer.from(`m${i}`))
  await retry(() => b.got.length === 20, { what: 'all delivered' })
  t.true(a.tags.every(isSessionTag))
})

test('a direct send to a host that stopped fails with a typed error', async t => {
  const net = createMemoryNetwork()
  const a = await recordedSide(t, net, randomHostId(), { mesh: false, stream: { streamOnly: true } })
  const b = await recordedSide(t, net, randomHostId(), { mesh: false, stream: { streamOnly: true } })
  a.connect()
  b.connect()
  a.transport.send(b.id, Buffer.from('first'))
  await retry(() => b.got.includes('first'), { what: 'delivered' })
  t.false(isSessionTag(a.tags.at(-1) as number))
  await b.transport.stop()
  const failures: string[] = []
  a.transport.send(b.id, Buffer.from('lost'), (err) => { failures.push((err as { code?: string }).code ?? err.message) })
  await retry(() => failures.length === 1, { what: 'the send failed' })
  t.deepEqual(failures, ['ERR_HOST_UNREACHABLE'])
})
