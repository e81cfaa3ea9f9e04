import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type NoiseStream } from 'hyperswarm'
import { pino, type Logger } from 'pino'
import { createCodec, type Codec } from '../../src/codec/codec.js'
import { encodeFrame, FrameDecoder, UNADMITTED_MAX_FRAME_BYTES } from '../../src/codec/frame.js'
import { DEFAULT_DHT_PORT, type DhtBootstrap } from '../../src/dht/bootstrap.js'
import { AdmissionError, FrameTooLargeError, HostUnreachableError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { HELLO_VERSION } from '../../src/transport/hello.js'
import { DEFAULT_HELLO_TIMEOUT_MS, DIALED_HELLO_TIMEOUT_MS, HyperswarmTransport, type HyperswarmTransportInit } from '../../src/transport/hyperswarm-transport.js'
import { retry } from '../helpers/retry.js'
import { udpBoundAddresses } from '../helpers/udp-bound.js'
import { collectFrames, transportComplianceSuite } from './transport-suite.js'
import { bootstrap, CONNECT_TIMEOUT_MS, transportInit } from './dht-harness.js'

interface Parts { logger?: Logger, codec?: Codec }

function transport (boot: DhtBootstrap, overrides: Partial<HyperswarmTransportInit> = {}, parts: Parts = {}): HyperswarmTransport {
  return new HyperswarmTransport(transportInit(boot, overrides), { logger: parts.logger ?? silentLogger(), codec: parts.codec ?? createCodec() })
}

/** A started transport, stopped at teardown (before the bootstrap). */
async function started (t: ExecutionContext, boot: DhtBootstrap, overrides: Partial<HyperswarmTransportInit> = {}, parts: Parts = {}): Promise<HyperswarmTransport> {
  const tr = transport(boot, overrides, parts)
  t.teardown(async () => { await tr.stop() })
  await tr.start()
  return tr
}

transportComplianceSuite('hyperswarm', async t => {
  const boot = await bootstrap(t)
  return { create: () => transport(boot) }
}, { serial: true })

test.serial('hyperswarm: port 0 binds an ephemeral port, not hyperdht\'s default (the default bootstrap port)', async t => {
  const boot = await bootstrap(t)
  const tr = await started(t, boot, { port: 0 })
  const port = Number(tr.addresses()[0]?.split(':')[1])
  // hyperdht tries its default and the four ports after it before any other.
  t.false(port >= DEFAULT_DHT_PORT && port < DEFAULT_DHT_PORT + 5, `bound ${port}`)
  t.deepEqual(await udpBoundAddresses(port), ['127.0.0.1'])
})

test.serial('hyperswarm: a host with the wrong secret is refused', async t => {
  const boot = await bootstrap(t)
  const good = await started(t, boot)
  const bad = await started(t, boot, { secret: 'wrong-secret' })
  const atGood = collectFrames(good)
  const connected: string[] = []
  good.on('connect', (p) => { connected.push(p.hostId) })

  let failure: Error | undefined
  bad.send(good.hostId, Buffer.from('let me in'), (err) => { failure = err })
  const err = await retry(() => failure, { timeoutMs: 15_000, what: 'send failure' })
  t.true(err instanceof AdmissionError || err instanceof HostUnreachableError, String(err))

  // Nothing from the bad host ever surfaced on the good one.
  t.deepEqual(atGood, [])
  t.deepEqual(connected, [])
  t.false(good.peers().some(p => p.hostId === bad.hostId && p.admitted))
})

test.serial('hyperswarm: a refused host is denied for denyMs, not for good: after the window it is dialled and admitted again (a host refused while a partition cut its data path rejoins once healed)', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot, { denyMs: 500 })
  const seed = randomBytes(32)
  const refused = transport(boot, { seed, secret: 'wrong-secret' })
  await refused.start()
  let failure: Error | undefined
  refused.send(a.hostId, Buffer.from('let me in'), (err) => { failure = err })
  await retry(() => failure, { timeoutMs: 15_000, what: 'the refusal' })
  await refused.stop()
  // The same host (same key) back with the cluster's secret.
  const b = await started(t, boot, { seed })
  const atB = collectFrames(b)
  await retry(() => {
    a.send(b.hostId, Buffer.from('again'))
    return atB.length > 0
  }, { timeoutMs: 20_000, intervalMs: 1_000, what: 'a frame from a reaching the once-refused host' })
  t.is(atB[0]?.payload.toString(), 'again')
})

test.serial('hyperswarm: the same secret in another cluster is refused too', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot)
  const b = await started(t, boot, { cluster: 'other' })
  const atA = collectFrames(a)
  let failure: Error | undefined
  b.send(a.hostId, Buffer.from('x'), (err) => { failure = err })
  const err = await retry(() => failure, { timeoutMs: 15_000, what: 'send failure' })
  t.true(err instanceof AdmissionError || err instanceof HostUnreachableError, String(err))
  t.deepEqual(atA, [])
})

test.serial('hyperswarm: an oversized frame raises frame-error on the receiver; later frames still arrive', async t => {
  const boot = await bootstrap(t)
  const receiver = await started(t, boot, { maxFrameBytes: 1024 })
  const sender = await started(t, boot)
  const got = collectFrames(receiver)
  const frameErrors: Array<{ host: string, err: Error }> = []
  receiver.on('frame-error', (host, err) => { frameErrors.push({ host, err }) })
  const disconnects: string[] = []
  receiver.on('disconnect', (host) => { disconnects.push(host) })

  sender.send(receiver.hostId, Buffer.from('before'))
  await retry(() => got.length === 1, { what: 'first frame' })
  sender.send(receiver.hostId, randomBytes(4000))
  sender.send(receiver.hostId, Buffer.from('after-1'))
  const exact = randomBytes(1024)
  sender.send(receiver.hostId, exact)
  await retry(() => got.length === 3, { what: 'frames after the oversized one' })
  // And once more in a later write, on the same connection.
  sender.send(receiver.hostId, randomBytes(50_000))
  sender.send(receiver.hostId, Buffer.from('after-2'))
  await retry(() => got.length === 4 && frameErrors.length === 2, { what: 'second round' })

  t.deepEqual(got.map(r => r.payload), [Buffer.from('before'), Buffer.from('after-1'), exact, Buffer.from('after-2')])
  t.true(frameErrors.every(e => e.host === sender.hostId && e.err instanceof FrameTooLargeError))
  t.like((frameErrors[0]?.err as FrameTooLargeError).details, { length: 4000, max: 1024 })
  t.deepEqual(disconnects, [])
})

test.serial('hyperswarm: sending to a stopped host fails with HostUnreachableError, not a hang', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot)
  const b = await started(t, boot)
  const atB = collectFrames(b)
  a.send(b.hostId, Buffer.from('hi'))
  await retry(() => atB.length === 1, { what: 'first frame' })
  const gone: string[] = []
  a.on('disconnect', (host) => { gone.push(host) })
  await b.stop()
  await retry(() => gone.includes(b.hostId), { what: 'disconnect' })

  let failure: Error | undefined
  a.send(b.hostId, Buffer.from('anyone?'), (err) => { failure = err })
  // The bound only catches a hang (several times the connect timeout); it is not a timing assertion.
  const err = await retry(() => failure, { timeoutMs: CONNECT_TIMEOUT_MS * 8, what: 'send failure' })
  t.true(err instanceof HostUnreachableError, String(err))
  t.is((err as HostUnreachableError).details?.host, b.hostId)
  t.like(a.peers().find(p => p.hostId === b.hostId), { unreachable: true, connected: false })
})

test.serial('hyperswarm: the idle timeout closes a dialed connection and a later send re-dials', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot, { idleTimeoutMs: 500 })
  const b = await started(t, boot)
  const atB = collectFrames(b)
  const aConnects: string[] = []
  const aDisconnects: string[] = []
  const bDisconnects: string[] = []
  a.on('connect', (p) => { aConnects.push(p.hostId) })
  a.on('disconnect', (host) => { aDisconnects.push(host) })
  b.on('disconnect', (host) => { bDisconnects.push(host) })
  const failures: Error[] = []
  const onFailure = (err: Error): void => { failures.push(err) }

  a.send(b.hostId, Buffer.from('one'), onFailure)
  await retry(() => atB.length === 1, { what: 'first frame' })
  t.true(a.peers().find(p => p.hostId === b.hostId)?.connected)

  // Idle close; a send made at once, while the old stream is still closing, re-dials.
  a.once('disconnect', () => { a.send(b.hostId, Buffer.from('two'), onFailure) })
  await retry(() => aDisconnects.length === 1, { what: 'first idle close' })
  await retry(() => atB.length === 2 || failures.length > 0, { what: 'frame sent during the close' })
  t.deepEqual(failures, [])
  // The receiving side saw the old connection go too.
  await retry(() => bDisconnects.length >= 1, { what: 'disconnect on the receiver' })

  // Idle again; a send some turns later re-dials as well.
  await retry(() => aDisconnects.length === 2, { what: 'second idle close' })
  t.false(a.peers().find(p => p.hostId === b.hostId)?.connected)
  a.send(b.hostId, Buffer.from('three'), onFailure)
  await retry(() => atB.length === 3 || failures.length > 0, { what: 'frame after re-dial' })
  t.deepEqual(failures, [])
  t.deepEqual(atB.map(r => r.payload.toString()), ['one', 'two', 'three'])
  t.deepEqual(aConnects, [b.hostId, b.hostId, b.hostId])
})

test.serial('hyperswarm: a send made as the peer ends an idle connection goes on a new connection, not into the ended stream', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot, { idleTimeoutMs: 500 })
  const b = await started(t, boot)
  const atA = collectFrames(a)
  const atB = collectFrames(b)
  a.send(b.hostId, Buffer.from('hello b'))
  await retry(() => atB.length === 1, { what: 'first frame' })
  // b's side of the connection a dialed: when a's end arrives (a's idle close), b sends at once.
  const conn = (b as unknown as { conns: Map<string, { stream: { once: (e: string, fn: () => void) => void } }> }).conns.get(a.hostId)
  t.truthy(conn, 'b holds the connection a dialed')
  const failures: Error[] = []
  conn?.stream.once('end', () => { b.send(a.hostId, Buffer.from('sent as it ended'), (err) => { failures.push(err) }) })
  await retry(() => atA.length === 1 || failures.length > 0, { timeoutMs: 20_000, what: 'the frame sent as the connection ended' })
  t.deepEqual(failures, [])
  t.deepEqual(atA.map(r => r.payload.toString()), ['sent as it ended'])
})

test.serial('hyperswarm: host id is the hex public key of the seed; addresses are on loopback', async t => {
  const boot = await bootstrap(t)
  const seed = randomBytes(32)
  const a = transport(boot, { seed })
  const b = transport(boot, { seed })
  t.is(a.hostId, b.hostId)
  t.regex(a.hostId, /^[0-9a-f]{64}$/)
  t.not(transport(boot).hostId, a.hostId)
  t.deepEqual(a.addresses(), [])
  t.teardown(async () => { await a.stop() })
  await a.start()
  const [address] = a.addresses()
  t.regex(address ?? '', /^127\.0\.0\.1:\d+$/)
  t.is(a.kind, 'hyperswarm')
})

test.serial('hyperswarm: a host declared down has its connection closed and its queued sends failed; a later send re-dials', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot)
  const b = await started(t, boot)
  const atB = collectFrames(b)
  a.send(b.hostId, Buffer.from('one'))
  await retry(() => atB.length === 1, { what: 'first frame' })
  const gone: Array<[string, string | undefined]> = []
  a.on('disconnect', (host, reason) => { gone.push([host, (reason as HostUnreachableError | undefined)?.code]) })
  a.hostDown(b.hostId, 'test: declared dead')
  t.deepEqual(gone, [[b.hostId, 'ERR_HOST_UNREACHABLE']])
  t.false(a.peers().find(p => p.hostId === b.hostId)?.connected)
  const failures: Error[] = []
  a.send(b.hostId, Buffer.from('two'), (err) => { failures.push(err) })
  await retry(() => atB.length === 2 || failures.length > 0, { what: 'frame after re-dial' })
  t.deepEqual(failures, [])
  t.deepEqual(atB.map(r => r.payload.toString()), ['one', 'two'])
})

/** A transport in a child process (so it can die by SIGKILL, its DHT record left behind); its stdout says `ready` and then each frame it gets. */
async function childHost (t: ExecutionContext, boot: DhtBootstrap, seed: Buffer): Promise<{ child: ChildProcess, frames: string[] }> {
  const src = new URL('../../src/', import.meta.url).href
  const code = `
    import { HyperswarmTransport } from '${src}transport/hyperswarm-transport.ts'
    import { createCodec } from '${src}codec/codec.ts'
    import { silentLogger } from '${src}log/logger.ts'
    const init = { ...${JSON.stringify({ ...transportInit(boot), seed: undefined })}, seed: Buffer.from('${seed.toString('hex')}', 'hex') }
    const tr = new HyperswarmTransport(init, { logger: silentLogger(), codec: createCodec() })
    tr.on('frame', (_host, payload) => { process.stdout.write('frame ' + payload.toString() + '\\n') })
    await tr.start()
    process.stdout.write('ready ' + tr.hostId + '\\n')`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const frames: string[] = []
  let ready = false
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line.startsWith('ready ')) ready = true
      else if (line.startsWith('frame ')) frames.push(line.slice(6))
    }
  })
  await retry(() => ready || child.exitCode !== null, { timeoutMs: 20_000, what: 'child transport ready' })
  if (!ready) throw new Error(`child transport exited with ${child.exitCode}`)
  return { child, frames }
}

/** A logger that keeps its lines, parsed. */
function capturingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  return { logger: pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }), lines }
}

/** A bare hyperswarm peer (no secret, no hello) connected to `hostId`, keeping what it receives. */
async function outsider (t: ExecutionContext, boot: DhtBootstrap, hostId: string, seed?: Buffer): Promise<{ stream: NoiseStream, frames: unknown[], closed: () => boolean, destroy: () => Promise<void> }> {
  const keyPair = seed === undefined ? undefined : HyperDHT.keyPair(seed)
  const dht = new HyperDHT({ bootstrap: [boot.address()], host: '127.0.0.1', firewalled: false, ...(keyPair === undefined ? {} : { keyPair }) })
  await dht.ready()
  const swarm = new Hyperswarm({ dht, ...(keyPair === undefined ? {} : { keyPair }) })
  const destroy = async (): Promise<void> => { await swarm.destroy(); await dht.destroy() }
  t.teardown(destroy)
  const stream = await new Promise<NoiseStream>(resolve => {
    swarm.once('connection', (s: NoiseStream) => { resolve(s) })
    swarm.joinPeer(Buffer.from(hostId, 'hex'))
  })
  const codec = createCodec()
  const frames: unknown[] = []
  let closed = false
  const decoder = new FrameDecoder({ onFrame: (p) => { frames.push(codec.decode(p)) }, onError: () => {} })
  stream.on('data', (chunk: Buffer) => { decoder.push(chunk) })
  stream.on('error', () => {})
  stream.on('close', () => { closed = true })
  return { stream, frames, closed: () => closed, destroy }
}

test.serial('hyperswarm: a dial begun while the host was dead reaches it once it is back and said so (hostUp): the dial starts afresh, its timeout too, not behind an attempt at the old address (~8 s to fail) nor through stale relays (~4 s)', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot, { connectTimeoutMs: 3_000 })
  const seed = randomBytes(32)
  const first = await childHost(t, boot, seed)
  const bId = HyperDHT.keyPair(seed).publicKey.toString('hex')
  a.send(bId, Buffer.from('before'))
  await retry(() => first.frames.includes('before'), { what: 'a frame to the first incarnation' })
  first.child.kill('SIGKILL')
  await new Promise(resolve => first.child.once('exit', resolve))
  a.hostDown(bId, 'test: killed')

  // A dial begun while b is dead: its attempt aims at b's old address. Whether that dial is still
  // on when b is back depends on how long b takes to restart; either way, what is sent once b is
  // back (and gossip said so) must get through within a dial's timeout.
  a.send(bId, Buffer.from('while away'))
  t.true(a.isDialing(bId))
  const second = await childHost(t, boot, seed)
  const failures: Error[] = []
  a.send(bId, Buffer.from('back'), (err) => { failures.push(err) })
  a.hostUp(bId)
  await retry(() => second.frames.includes('back') || failures.length > 0, { timeoutMs: 20_000, what: 'the frame sent once the host was back' })
  t.deepEqual(failures, [], 'the host was back, yet the dial failed')
  t.deepEqual(second.frames.filter(f => f !== 'while away'), ['back'])
})

test.serial('hyperswarm: each side decodes the other\'s hello once', async t => {
  const boot = await bootstrap(t)
  const count = (): Codec & { decodes: number } => {
    const base = createCodec()
    const c = { decodes: 0, encode: base.encode, encodeAfter: base.encodeAfter, decodeFrom: base.decodeFrom, decode: (b: Uint8Array) => { c.decodes++; return base.decode(b) } }
    return c
  }
  const [ca, cb] = [count(), count()]
  const a = await started(t, boot, {}, { codec: ca })
  const b = await started(t, boot, {}, { codec: cb })
  const atB = collectFrames(b)
  a.send(b.hostId, Buffer.from('hi'))
  await retry(() => atB.length === 1, { what: 'frame' })
  t.is(ca.decodes, 1)
  t.is(cb.decodes, 1)
})

test.serial('hyperswarm: an outsider\'s oversized hello is refused as too large, unread, and the host goes on serving its peers', async t => {
  const boot = await bootstrap(t)
  const { logger, lines } = capturingLogger()
  const target = await started(t, boot, {}, { logger })
  const peer = await started(t, boot)
  const atTarget = collectFrames(target)
  const rogue = await outsider(t, boot, target.hostId)
  // A 1 MiB BigInt extension plus a stray byte: what used to block the event loop for a second.
  const body = Buffer.alloc(6 + 1024 * 1024 + 1, 0x5a)
  body[0] = 0xc9
  body.writeUInt32BE(1024 * 1024, 1)
  body[5] = 0x42
  rogue.stream.write(encodeFrame(body))
  await retry(() => rogue.frames.length === 2 && rogue.closed(), { what: 'refusal and close' })
  t.like(rogue.frames[1], { refused: 'ERR_FRAME_TOO_LARGE' })
  const refusals = lines.filter(l => l.msg === 'refused host')
  t.is(refusals.length, 1)
  t.like(refusals[0], { code: 'ERR_FRAME_TOO_LARGE' })
  t.regex(String(refusals[0]?.err), new RegExp(`${UNADMITTED_MAX_FRAME_BYTES}-byte limit`))
  t.false(target.peers().some(p => p.admitted && p.connected && p.hostId !== peer.hostId))

  peer.send(target.hostId, Buffer.from('still here'))
  await retry(() => atTarget.length === 1, { what: 'an admitted peer served' })
  t.deepEqual(atTarget.map(r => r.payload.toString()), ['still here'])
})

test.serial('hyperswarm: a peer silent past the hello timeout is closed, not refused nor denied: the same host speaking next is admitted at once (a hello lost while a partition cut the data path must not keep the healed host out)', async t => {
  const boot = await bootstrap(t)
  const { logger, lines } = capturingLogger()
  const target = await started(t, boot, { helloTimeoutMs: 300, denyMs: 120_000 }, { logger })
  const atTarget = collectFrames(target)
  const seed = randomBytes(32)
  const silent = await outsider(t, boot, target.hostId, seed)
  await retry(() => silent.closed(), { what: 'the silent connection closed' })
  t.is(silent.frames.length, 1, 'the target\'s hello and no refusal')
  t.like(silent.frames[0], { hello: HELLO_VERSION, hostId: target.hostId })
  await silent.destroy()
  t.true(lines.some(l => /no hello within the timeout/.test(String(l.msg))))
  t.false(lines.some(l => l.msg === 'refused host'))

  const same = await started(t, boot, { seed })
  let failure: Error | undefined
  same.send(target.hostId, Buffer.from('back'), (err) => { failure = err })
  await retry(() => atTarget.length === 1 || failure !== undefined, { timeoutMs: 15_000, what: 'the frame or a failure' })
  t.is(failure, undefined)
  t.deepEqual(atTarget.map(r => r.payload.toString()), ['back'])
})

test.serial('hyperswarm: frames larger than the pre-admission budget flow once the peer is admitted', async t => {
  const boot = await bootstrap(t)
  const a = await started(t, boot)
  const b = await started(t, boot)
  const atB = collectFrames(b)
  const big = randomBytes(UNADMITTED_MAX_FRAME_BYTES * 16)
  // Queued while dialing: written right behind the hello, so they may arrive in its chunk.
  a.send(b.hostId, big)
  a.send(b.hostId, Buffer.from('after'))
  await retry(() => atB.length === 2, { what: 'both frames' })
  t.deepEqual(atB.map(r => r.payload), [big, Buffer.from('after')])
})

test.serial('hyperswarm: a connection without the hello of a host being dialed is closed after a short wait, not the hello timeout, so the dial can make another (two hosts dialing each other at once can each keep a connection the other destroyed)', async t => {
  const boot = await bootstrap(t)
  const { logger, lines } = capturingLogger()
  const target = await started(t, boot, { connectTimeoutMs: 20_000 }, { logger })
  const seed = randomBytes(32)
  const silentId = HyperDHT.keyPair(seed).publicKey.toString('hex')
  const silent = await outsider(t, boot, target.hostId, seed)
  await new Promise(resolve => setTimeout(resolve, DIALED_HELLO_TIMEOUT_MS + 500))
  t.false(silent.closed(), 'no dial waits for that host: the connection has the whole hello timeout')
  const sentAt = Date.now()
  target.send(silentId, Buffer.from('to the silent one'))
  await retry(() => silent.closed(), { timeoutMs: DEFAULT_HELLO_TIMEOUT_MS, what: 'the silent connection closed' })
  t.true(Date.now() - sentAt < DIALED_HELLO_TIMEOUT_MS, 'older than the short wait already: closed as the dial began')
  t.true(lines.some(l => /no hello on a connection to a host being dialed/.test(String(l.msg))))

  const seed2 = randomBytes(32)
  const openedAt = Date.now()
  const fresh = await outsider(t, boot, target.hostId, seed2)
  target.send(HyperDHT.keyPair(seed2).publicKey.toString('hex'), Buffer.from('to the next one'))
  await retry(() => fresh.closed(), { timeoutMs: DEFAULT_HELLO_TIMEOUT_MS, what: 'the second silent connection closed' })
  t.true(Date.now() - openedAt < DEFAULT_HELLO_TIMEOUT_MS, 'closed by the short wait, before the hello timeout')
})
