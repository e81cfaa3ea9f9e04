import test from 'ava'
import { randomBytes } from 'node:crypto'
import type { DhtBootstrap } from '../../src/dht/bootstrap.js'
import { skippedFrameHead } from '../../src/codec/frame.js'
import { FrameTooLargeError, HostUnreachableError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { createTransportThread } from '../../src/transport/transport-thread.js'
import type { Transport } from '../../src/transport/transport.js'
import { retry } from '../helpers/retry.js'
import { createCodec } from '../../src/codec/codec.js'
import { CompactKind, createCompactEnvelopeCodec, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { MEMBERSHIP_PATH } from '../../actors/membership/messages.js'
import { collectFrames, transportComplianceSuite } from './transport-suite.js'
import { bootstrap, transportInit } from './dht-harness.js'

function threaded (boot: DhtBootstrap, turnBudgetMs?: number): Transport {
  return createTransportThread({ ...transportInit(boot), logLevel: 'silent', logBase: {}, ...(turnBudgetMs === undefined ? {} : { turnBudgetMs }) }, { logger: silentLogger() })
}

transportComplianceSuite('hyperswarm on its own thread', async t => {
  const boot = await bootstrap(t)
  return { create: () => threaded(boot) }
}, { serial: true })

test.serial('a burst of frames reaches the actor loop in order, a turn budget at a time (the loop keeps turning meanwhile)', async t => {
  const boot = await bootstrap(t)
  const a = threaded(boot, 1)
  const b = threaded(boot)
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  const got = collectFrames(a)
  let turns = 0
  let counting = true
  const tick = (): void => { turns++; if (counting) setImmediate(tick) }
  tick()
  const n = 3000
  for (let i = 0; i < n; i++) b.send(a.hostId, Buffer.concat([Buffer.from(String(i).padStart(6, '0')), randomBytes(2000)]), (err) => { t.fail(err.message) })
  await retry(() => got.length === n, { timeoutMs: 30_000, what: `${n} frames` })
  counting = false
  t.deepEqual(got.map(f => Number(f.payload.subarray(0, 6).toString())), [...Array(n).keys()], 'in the order sent')
  t.true(turns > 10, `the loop turned ${turns} times while 6 MB came in`)
})

test.serial('large frames come through the shared ring intact and in order, many times its size, mixed with small ones', async t => {
  const boot = await bootstrap(t)
  const a = createTransportThread({ ...transportInit(boot), logLevel: 'silent', logBase: {}, ringBytes: 512 * 1024 }, { logger: silentLogger() })
  const b = threaded(boot)
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  const sent: Buffer[] = []
  const got: Buffer[] = []
  let held: { view: Buffer } | undefined
  a.on('frame', (_from, payload) => {
    got.push(Buffer.from(payload))
    if (held === undefined && payload.buffer instanceof SharedArrayBuffer) held = { view: payload }
  })
  for (let i = 0; i < 60; i++) {
    const size = i % 3 === 0 ? 200 : 20_000 + (i * 7919) % 110_000
    const frame = randomBytes(size)
    frame.writeUInt32BE(i, 0)
    sent.push(frame)
    b.send(a.hostId, frame, (err) => { t.fail(err.message) })
  }
  await retry(() => got.length === sent.length, { timeoutMs: 30_000, what: `${sent.length} frames` })
  t.deepEqual(got.map(f => f.readUInt32BE(0)), [...sent.keys()], 'in the order sent')
  t.true(got.every((f, i) => f.equals(sent[i] as Buffer)), 'every byte as sent')
  if (held === undefined) { t.fail('no frame came by the ring'); return }
  t.true(held.view.byteLength > 16 * 1024, 'only large frames take the ring')
})

test.serial('payloads written in place (sendTarget, commitSend) go out in order with those sent as buffers, over many batches; none before start', async t => {
  const boot = await bootstrap(t)
  const a = threaded(boot)
  const b = threaded(boot)
  t.teardown(async () => { await a.stop(); await b.stop() })
  t.is(b.sendTarget?.(a.hostId), undefined, 'not running: nothing to write into')
  await a.start()
  await b.start()
  const got = collectFrames(a)
  const sent: Buffer[] = []
  const n = 6000
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 999) await new Promise(resolve => setImmediate(resolve))
    const payload = randomBytes(i % 500 === 7 ? 70_000 : 20 + (i * 131) % 300)
    payload.writeUInt32BE(i, 0)
    sent.push(payload)
    const target = i % 3 === 0 ? undefined : b.sendTarget?.(a.hostId)
    if (target === undefined || target.at + payload.byteLength > target.bytes.byteLength) {
      b.send(a.hostId, payload, (err) => { t.fail(err.message) })
      continue
    }
    target.bytes.set(payload, target.at)
    b.commitSend?.(a.hostId, target.at + payload.byteLength, (err) => { t.fail(err.message) })
  }
  await retry(() => got.length === n, { timeoutMs: 30_000, what: `${n} frames` })
  t.deepEqual(got.map(f => f.payload.readUInt32BE(0)), [...sent.keys()], 'in the order sent')
  t.true(got.every((f, i) => f.payload.equals(sent[i] as Buffer)), 'every byte as sent')
})

test.serial('sends queued while dialing a host that never answers fail with HostUnreachableError; after stop a send fails at once', async t => {
  const boot = await bootstrap(t)
  const a = threaded(boot)
  t.teardown(async () => { await a.stop() })
  await a.start()
  const errors: Error[] = []
  const ghost = randomBytes(32).toString('hex')
  for (let i = 0; i < 3; i++) a.send(ghost, Buffer.from('x'), (err) => { errors.push(err) })
  await retry(() => errors.length === 3, { timeoutMs: 15_000, what: 'three failures' })
  t.true(errors.every(e => e instanceof HostUnreachableError), errors.map(e => e.message).join('; '))
  await a.stop()
  const late: Error[] = []
  a.send(ghost, Buffer.from('y'), (err) => { late.push(err) })
  t.is(late.length, 1, 'stopped: fails at once')
})

test.serial('an oversized frame comes back as FrameTooLargeError with its first bytes (the session layer reads its sequence number there); the next frame passes', async t => {
  const boot = await bootstrap(t)
  const a = threaded(boot)
  const b = threaded(boot)
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  const errors: Error[] = []
  a.on('frame-error', (_host, err) => { errors.push(err) })
  const got = collectFrames(a)
  const big = Buffer.alloc(2 * 1024 * 1024, 9)
  big.write('HEAD', 0)
  b.send(a.hostId, big)
  b.send(a.hostId, Buffer.from('after'))
  await retry(() => errors.length === 1 && got.length === 1, { timeoutMs: 15_000, what: 'the error, then the next frame' })
  t.true(errors[0] instanceof FrameTooLargeError)
  t.is(skippedFrameHead(errors[0] as Error)?.subarray(0, 4).toString(), 'HEAD')
  t.is(got[0]?.payload.toString(), 'after')
})

test.serial('a peer that sends a burst and goes away: its frames, then its disconnect, still a turn budget at a time (the disconnect does not hand on everything left at once)', async t => {
  const boot = await bootstrap(t)
  const a = threaded(boot, 1)
  const b = threaded(boot)
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  let turn = 0
  let counting = true
  const tick = (): void => { turn++; if (counting) setImmediate(tick) }
  tick()
  const perTurn = new Map<number, number>()
  const seen: Array<number | 'disconnect'> = []
  a.on('frame', (_host, payload) => {
    const until = performance.now() + 0.2
    while (performance.now() < until);
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
    seen.push(Number(payload.subarray(0, 6).toString()))
  })
  a.on('disconnect', (host) => { if (host === b.hostId) seen.push('disconnect') })
  const n = 2000
  for (let i = 0; i < n; i++) b.send(a.hostId, Buffer.concat([Buffer.from(String(i).padStart(6, '0')), randomBytes(2000)]))
  await retry(() => seen.length > 0, { timeoutMs: 15_000, what: 'the first frame' })
  await b.stop()
  await retry(() => seen.includes('disconnect'), { timeoutMs: 30_000, what: 'the disconnect' })
  counting = false
  const frames = seen.slice(0, -1)
  t.is(seen.at(-1), 'disconnect', 'the disconnect comes after every frame received before it')
  t.deepEqual(frames, [...Array(frames.length).keys()], 'frames in the order sent')
  t.true(frames.length >= 200, `a burst worth the name arrived (${frames.length} frames)`)
  const most = Math.max(...perTurn.values())
  t.true(most <= 50, `at most ${most} frames of 0.2 ms in one turn with a 1 ms budget`)
})

test.serial('frames to a priority path are handed on ahead of a backlog; everything else stays in order, and without the option nothing overtakes', async t => {
  const boot = await bootstrap(t)
  const codec = createCompactEnvelopeCodec({ codec: createCodec() })
  const envelope = (to: string, i: number): Buffer => codec.encode(CompactKind.dispatch, i + 1, -1, to, '/sender', '', { type: 'test.n', i })
  const n = 6000
  const urgentAt = n - 100
  const run = async (priorityPaths: string[] | undefined): Promise<number[]> => {
    const a = createTransportThread({ ...transportInit(boot), logLevel: 'silent', logBase: {}, turnBudgetMs: 1, ...(priorityPaths === undefined ? {} : { priorityPaths }) }, { logger: silentLogger() })
    const b = threaded(boot)
    t.teardown(async () => { await a.stop(); await b.stop() })
    await a.start()
    await b.start()
    const order: number[] = []
    const decoder = createCompactEnvelopeCodec({ codec: createCodec() })
    const out: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null }
    a.on('frame', (_from, payload) => {
      decoder.decode(payload, out)
      order.push((out.body as { i: number }).i)
    })
    b.send(a.hostId, envelope('/warm', -1))
    await retry(() => order.length === 1, { timeoutMs: 15_000, what: 'the connection' })
    order.length = 0
    for (let i = 0; i < n; i++) b.send(a.hostId, envelope(i === urgentAt ? MEMBERSHIP_PATH : '/bench/sink', i), (err) => { t.fail(err.message) })
    await new Promise(resolve => setImmediate(resolve))
    // The actor loop is busy while every frame arrives: they all wait in its inbox.
    const until = Date.now() + 1_500
    while (Date.now() < until) { /* the backlog builds */ }
    await retry(() => order.length === n, { timeoutMs: 30_000, what: `${n} frames` })
    t.is(a.framesFrom?.(b.hostId), n + 1, 'every frame from b counted as it arrived')
    t.is(a.framesFrom?.(a.hostId), 0)
    await a.stop()
    await b.stop()
    return order
  }
  const withLane = await run([MEMBERSHIP_PATH])
  const at = withLane.indexOf(urgentAt)
  t.true(at >= 0 && at < urgentAt - 1000, `the membership frame (sent ${urgentAt}th) was handed on ${at}th, ahead of the backlog`)
  t.deepEqual(withLane.filter(i => i !== urgentAt), [...Array(n).keys()].filter(i => i !== urgentAt), 'the others in the order sent')
  const without = await run(undefined)
  t.deepEqual(without, [...Array(n).keys()], 'without priority paths: exactly the order sent')
})

test('a priority path must be printable ASCII under 128 bytes', t => {
  t.throws(() => createTransportThread({ seed: randomBytes(32), cluster: 'c', secret: 's', name: 'n', version: '0', bootstrap: [], logLevel: 'silent', logBase: {}, priorityPaths: ['/x'.repeat(64)] }, { logger: silentLogger() }), { instanceOf: RangeError })
})

test.serial('a flood of frames to a priority path is handed on a turn budget at a time too, all of them, in order', async t => {
  const boot = await bootstrap(t)
  const a = createTransportThread({ ...transportInit(boot), logLevel: 'silent', logBase: {}, turnBudgetMs: 1, priorityPaths: [MEMBERSHIP_PATH] }, { logger: silentLogger() })
  const b = threaded(boot)
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  const codec = createCompactEnvelopeCodec({ codec: createCodec() })
  const decoder = createCompactEnvelopeCodec({ codec: createCodec() })
  const out: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null }
  const got: number[] = []
  a.on('frame', (_from, payload) => {
    decoder.decode(payload, out)
    got.push((out.body as { i: number }).i)
  })
  b.send(a.hostId, codec.encode(CompactKind.dispatch, 1, -1, '/warm', '/x', '', { type: 'test.n', i: -1 }))
  await retry(() => got.length === 1, { timeoutMs: 15_000, what: 'the connection' })
  got.length = 0
  let turns = 0
  let counting = true
  const tick = (): void => { turns++; if (counting) setImmediate(tick) }
  tick()
  const n = 3000
  const pad = 'p'.repeat(2000)
  for (let i = 0; i < n; i++) b.send(a.hostId, codec.encode(CompactKind.dispatch, i + 2, -1, MEMBERSHIP_PATH, '/x', '', { type: 'test.n', i, pad }))
  await retry(() => got.length === n, { timeoutMs: 30_000, what: `${n} frames` })
  counting = false
  t.deepEqual(got, [...Array(n).keys()], 'every one, in the order sent')
  t.true(turns > 10, `the loop turned ${turns} times while 6 MB of priority frames came in`)
})
