import test, { type ExecutionContext } from 'ava'
import { createConnection } from 'node:net'
import { pino, type Logger } from 'pino'
import { createCodec } from '../../src/codec/codec.js'
import { encodeFrame, UNADMITTED_MAX_FRAME_BYTES } from '../../src/codec/frame.js'
import { silentLogger } from '../../src/log/logger.js'
import { deriveClusterKeys } from '../../src/transport/cluster-keys.js'
import { canonicalIp, createMeshPath, type MeshPath } from '../../src/transport/mesh-path.js'
import { randomHostId } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'

interface End { id: string, path: MeshPath, frames: string[], port: number }

async function end (t: ExecutionContext, secret = 's3cret', id = randomHostId(), logger: Logger = silentLogger()): Promise<End> {
  const path = createMeshPath({ hostId: id, keys: deriveClusterKeys('c', secret), port: 0, helloTimeoutMs: 1_000, connectTimeoutMs: 1_000 }, { logger, codec: createCodec() })
  await path.start('::1')
  t.teardown(async () => { await path.stop() })
  const frames: string[] = []
  path.on('frame', (_h, p) => { frames.push(p.toString()) })
  return { id, path, frames, port: path.listening()?.port as number }
}

/** Two ends that route to each other on ::1; `a` has the smaller id, so it dials. */
async function pair (t: ExecutionContext, secretB?: string): Promise<[End, End]> {
  const [x, y] = [randomHostId(), randomHostId()].sort() as [string, string]
  const a = await end(t, 's3cret', x)
  const b = await end(t, secretB ?? 's3cret', y)
  a.path.setRoutes(new Map([[b.id, { address: '::1', port: b.port }]]))
  b.path.setRoutes(new Map([[a.id, { address: '::1', port: a.port }]]))
  return [a, b]
}

test('the smaller host dials, the hello proves membership both ways, frames flow both ways', async t => {
  const [a, b] = await pair(t)
  await retry(() => a.path.connected(b.id) && b.path.connected(a.id), { what: 'connected' })
  t.true(a.path.connections()[0]?.initiator)
  t.false(b.path.connections()[0]?.initiator)
  t.true(a.path.send(b.id, Buffer.from('to b')))
  t.true(b.path.send(a.id, Buffer.from('to a')))
  await retry(() => a.frames.length === 1 && b.frames.length === 1, { what: 'frames' })
  t.deepEqual([a.frames, b.frames], [['to a'], ['to b']])
  t.false(a.path.send(randomHostId(), Buffer.from('x')), 'no connection, no send')
})

test('a host with the wrong secret is refused on both sides', async t => {
  const [a, b] = await pair(t, 'wrong')
  await new Promise(resolve => setTimeout(resolve, 500))
  t.false(a.path.connected(b.id))
  t.false(b.path.connected(a.id))
})

test('a dropped connection goes down and is dialled again', async t => {
  const [a, b] = await pair(t)
  await retry(() => a.path.connected(b.id), { what: 'connected' })
  const downs: string[] = []
  a.path.on('down', (h, why) => { downs.push(`${h}:${why}`) })
  a.path.drop(b.id, 'test')
  t.false(a.path.connected(b.id))
  t.is(downs.length, 1)
  await retry(() => a.path.connected(b.id) && b.path.connected(a.id), { what: 'reconnected' })
  a.path.setRoutes(new Map())
  await retry(() => !a.path.connected(b.id), { what: 'closed when no longer a peer' })
})

test('strangers and garbage get no connection: unknown host, wrong source, malformed hello', async t => {
  const b = await end(t)
  const codec = createCodec()
  const tryHello = async (bytes: Buffer): Promise<boolean> => await new Promise(resolve => {
    const s = createConnection({ host: '::1', port: b.port })
    s.on('error', () => {})
    s.on('connect', () => { s.write(bytes) })
    s.on('close', () => { resolve(true) })
    setTimeout(() => { s.destroy(); resolve(false) }, 3_000).unref()
  })
  const stranger = randomHostId()
  t.true(await tryHello(encodeFrame(codec.encode({ m: 'roost-mesh/1', host: stranger, to: b.id, nonce: Buffer.alloc(16) }))), 'unknown host closed')
  b.path.setRoutes(new Map([[stranger, { address: 'fd00::1', port: 1 }]]))
  t.true(await tryHello(encodeFrame(codec.encode({ m: 'roost-mesh/1', host: stranger, to: b.id, nonce: Buffer.alloc(16) }))), 'wrong source address closed')
  t.true(await tryHello(encodeFrame(Buffer.from([0xc1, 0xc1]))), 'not msgpack closed')
  t.true(await tryHello(Buffer.from([0xff, 0xff, 0xff, 0xff, 1])), 'oversized first frame closed')
  t.is(b.path.connections().length, 0)
})

test('a first frame over the pre-admission budget is refused as too large before it is read; connections from peers go on', async t => {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const [x, y] = [randomHostId(), randomHostId()].sort() as [string, string]
  const a = await end(t, 's3cret', x)
  const b = await end(t, 's3cret', y, logger)
  const codec = createCodec()
  // Shaped like a client hello, padded past the budget (but far below the frame limit).
  const big = encodeFrame(codec.encode({ m: 'roost-mesh/1', host: a.id, to: b.id, nonce: Buffer.alloc(16), pad: Buffer.alloc(UNADMITTED_MAX_FRAME_BYTES) }))
  await new Promise<void>(resolve => {
    const s = createConnection({ host: '::1', port: b.port })
    s.on('error', () => {})
    s.on('connect', () => { s.write(big) })
    s.on('close', () => { resolve() })
  })
  const refused = lines.filter(l => l.msg === 'mesh connection refused')
  t.is(refused.length, 1)
  t.like(refused[0], { code: 'ERR_FRAME_TOO_LARGE' })
  b.path.setRoutes(new Map([[a.id, { address: '::1', port: a.port }]]))
  a.path.setRoutes(new Map([[b.id, { address: '::1', port: b.port }]]))
  await retry(() => a.path.connected(b.id) && b.path.connected(a.id), { what: 'the real peer connected' })
  const large = Buffer.alloc(UNADMITTED_MAX_FRAME_BYTES * 4, 7)
  t.true(a.path.send(b.id, large))
  await retry(() => b.frames.length === 1, { what: 'a large frame once admitted' })
  t.is(b.frames[0]?.length, large.length)
})

test('canonicalIp compares addresses however they are written', t => {
  t.is(canonicalIp('fd00:0:0::1'), canonicalIp('fd00::1'))
  t.is(canonicalIp('::ffff:10.0.0.1'), '10.0.0.1')
  t.is(canonicalIp('FD00::A'), 'fd00::a')
})
