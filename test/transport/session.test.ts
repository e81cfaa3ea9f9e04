import test from 'ava'
import { pino, type Logger } from 'pino'
import { retry } from '../helpers/retry.js'
import { HostUnreachableError, SessionBudgetError } from '../../src/errors/errors.js'
import { createRingMemory, createRingReader, createRingWriter } from '../../src/transport/frame-ring.js'
import { createSession, DEFAULT_MAX_REORDER_BYTES, DEFAULT_MAX_UNACKED_BYTES, SESSION_ACK, SESSION_DATA, SESSION_DATA_HEADER_BYTES, type Session, type SessionInit } from '../../src/transport/session.js'

const logger = pino({ level: 'silent' })

/** A logger that keeps its lines, parsed. */
function capturing (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  return { logger: pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }), lines }
}

/** Two sessions joined by two in-memory "paths" that can hold, drop and reorder frames. */
function pair (opts: { ackEvery?: number, a?: SessionInit, b?: SessionInit, logger?: Logger } = {}) {
  const wires = { a: [] as Array<{ to: 'a' | 'b', path: string, frame: Buffer, onFailure?: (e: Error) => void }> }
  const delivered: Record<'a' | 'b', string[]> = { a: [], b: [] }
  const bad: Error[] = []
  const resets: Array<{ at: 'a' | 'b', err: SessionBudgetError }> = []
  let onReset: (at: 'a' | 'b') => void = () => {}
  let path = 'wireguard'
  const mk = (me: 'a' | 'b', other: 'a' | 'b'): Session => createSession({ ackEvery: opts.ackEvery ?? 1, ackDelayMs: 1, ...opts[me] }, {
    logger: opts.logger ?? logger,
    transmit: (_host, frame, onFailure, token) => {
      wires.a.push({ to: other, path, frame: Buffer.from(frame), ...(onFailure === undefined ? {} : { onFailure: (e: Error) => { onFailure(e, token) } }) })
      return path
    },
    deliver: (_host, bytes, start, end) => { delivered[me].push(Buffer.from(bytes.subarray(start, end)).toString()) },
    badFrame: (_host, err) => { bad.push(err) },
    resetPaths: (_host, err) => { resets.push({ at: me, err }); onReset(me) }
  })
  const a = mk('a', 'b')
  const b = mk('b', 'a')
  const sessions = { a, b }
  /** Delivers queued frames (optionally only those of one path, or in reverse order). */
  const flush = (filter?: (f: { path: string }) => boolean, reverse = false): number => {
    let n = 0
    for (let round = 0; round < 20; round++) {
      const batch = wires.a.filter(f => filter === undefined || filter(f))
      if (batch.length === 0) break
      wires.a = wires.a.filter(f => !batch.includes(f))
      if (reverse) batch.reverse()
      for (const f of batch) { sessions[f.to].receive(f.to === 'a' ? 'b' : 'a', f.frame); n++ }
    }
    return n
  }
  return { a, b, wires, delivered, bad, resets, flush, setPath: (p: string) => { path = p }, onReset: (fn: (at: 'a' | 'b') => void) => { onReset = fn } }
}

test('payloads arrive once and in order, and acknowledgements clear the sender', async t => {
  const p = pair()
  for (let i = 0; i < 5; i++) p.a.send('b', Buffer.from(`m${i}`))
  t.is(p.a.unacked('b'), 5)
  p.flush()
  t.deepEqual(p.delivered.b, ['m0', 'm1', 'm2', 'm3', 'm4'])
  t.is(p.a.unacked('b'), 0)
})

test('out-of-order frames (two paths) are delivered in send order', t => {
  const p = pair()
  p.setPath('hyperswarm')
  p.a.send('b', Buffer.from('1'))
  p.a.send('b', Buffer.from('2'))
  p.setPath('wireguard')
  p.a.send('b', Buffer.from('3'))
  p.flush(f => f.path === 'wireguard')
  t.deepEqual(p.delivered.b, [], 'the third waits for the first two')
  p.flush(undefined, true)
  t.deepEqual(p.delivered.b, ['1', '2', '3'])
})

test('a lost path: unacknowledged payloads are sent again on another, duplicates are dropped', t => {
  const p = pair({ ackEvery: 1000 })
  for (let i = 0; i < 4; i++) p.a.send('b', Buffer.from(`m${i}`))
  // m0, m1 arrive over the tunnel but their ack never comes back; m2, m3 are lost with it.
  const first = p.wires.a.splice(0, 2)
  p.wires.a = []
  for (const f of first) p.b.receive('a', f.frame)
  t.deepEqual(p.delivered.b, ['m0', 'm1'])
  p.setPath('hyperswarm')
  t.is(p.a.pathLost('b', 'wireguard'), 4)
  p.flush()
  t.deepEqual(p.delivered.b, ['m0', 'm1', 'm2', 'm3'], 'nothing lost, nothing twice')
  t.is(p.a.pathLost('b', 'wireguard'), 0, 'nothing left on the lost path')
})

test('a payload that cannot be sent anywhere fails with its typed error, and later ones are not held up', async t => {
  const p = pair()
  const failures: Error[] = []
  p.a.send('b', Buffer.from('lost'), (e) => { failures.push(e) })
  const f = p.wires.a.shift()
  f?.onFailure?.(new HostUnreachableError('no connection'))
  t.is(failures.length, 1)
  t.is((failures[0] as HostUnreachableError).code, 'ERR_HOST_UNREACHABLE')
  t.is(p.a.unacked('b'), 0)
  p.a.send('b', Buffer.from('next'))
  p.flush()
  t.deepEqual(p.delivered.b, ['next'], 'the receiver skips the failed sequence number')
})

test('a restarted sender (new epoch) starts a new stream at the receiver', t => {
  const p = pair()
  p.a.send('b', Buffer.from('old'))
  p.flush()
  const fresh = createSession({ epoch: (p.a.epoch % 1000) + 1 }, { logger, transmit: (_h, frame) => { p.b.receive('a', frame); return 'wireguard' }, deliver: () => {}, badFrame: () => {}, resetPaths: () => {} })
  fresh.send('b', Buffer.from('new'))
  t.deepEqual(p.delivered.b, ['old', 'new'])
})

test('garbage frames are reported as typed errors and change nothing', t => {
  const p = pair()
  p.b.receive('a', Buffer.from([0x01, 2, 3]))
  p.b.receive('a', Buffer.from([SESSION_DATA, 1]))
  p.b.receive('a', Buffer.from([SESSION_ACK, 1, 2]))
  t.is(p.bad.length, 3)
  t.true(p.bad.every(e => (e as { code?: string }).code === 'ERR_MALFORMED_FRAME'))
  p.a.send('b', Buffer.from('ok'))
  p.flush()
  t.deepEqual(p.delivered.b, ['ok'])
})

test('a frame dropped below for its size uses up its sequence number: later payloads are not held back', t => {
  const p = pair()
  p.a.send('b', Buffer.from('first'))
  p.a.send('b', Buffer.alloc(64, 1))
  p.a.send('b', Buffer.from('third'))
  const [first, big, third] = p.wires.a.splice(0, 3)
  p.b.receive('a', first!.frame)
  p.b.receive('a', third!.frame)
  t.deepEqual(p.delivered.b, ['first'])
  p.b.skipped('a', big!.frame.subarray(0, 16))
  t.deepEqual(p.delivered.b, ['first', 'third'])
  p.flush()
  t.is(p.a.unacked('b'), 0, 'the acknowledgement covers the skipped one too')
})

test('a host gone: every unacknowledged payload fails once with the typed error, and the receiver skips them', t => {
  const p = pair({ ackEvery: 1000 })
  const failures: string[] = []
  for (let i = 0; i < 3; i++) p.a.send('b', Buffer.from(`m${i}`), (e) => { failures.push(`m${i} ${(e as HostUnreachableError).code}`) })
  const inFlight = p.wires.a.splice(0, 3)
  t.is(p.a.fail('b', new HostUnreachableError('gone')), 3)
  t.deepEqual(failures, ['m0 ERR_HOST_UNREACHABLE', 'm1 ERR_HOST_UNREACHABLE', 'm2 ERR_HOST_UNREACHABLE'])
  t.is(p.a.unacked('b'), 0)
  // A late failure report from the path below changes nothing.
  inFlight[0]?.onFailure?.(new HostUnreachableError('late'))
  t.is(failures.length, 3)
  t.is(p.a.fail('b', new HostUnreachableError('again')), 0)
  p.a.send('b', Buffer.from('after'))
  p.flush()
  t.deepEqual(p.delivered.b, ['after'], 'the failed sequence numbers are skipped, not waited for')
})

test('a failure reported after later payloads went out naming it as their low: the receiver (a fresh one, say a restarted host) delivers them once the low moves past it', t => {
  // The failure of "lost" comes back from the transport thread only after "held" and "next" were
  // stamped with it as the lowest live sequence number: the receiver holds "held" waiting for it.
  const p = pair({ ackEvery: 1000 })
  p.a.send('b', Buffer.from('lost'))
  p.a.send('b', Buffer.from('held'))
  const [lost, held] = p.wires.a.splice(0, 2)
  lost?.onFailure?.(new HostUnreachableError('dial timed out'))
  p.b.receive('a', held!.frame)
  t.deepEqual(p.delivered.b, [], 'held for the gap its low names')
  p.a.send('b', Buffer.from('next'))
  p.flush()
  t.deepEqual(p.delivered.b, ['held', 'next'], 'the next frame\'s low says the gap is settled: what was held goes on, in order')
})

/** A session data frame as host `a` of `epoch` would send it. */
function dataFrame (epoch: number, seq: number, low: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(SESSION_DATA_HEADER_BYTES + payload.byteLength)
  f[0] = SESSION_DATA
  f.writeUInt32BE(epoch, 1)
  f.writeUInt32BE(seq, 5)
  f.writeUInt32BE(low, 9)
  payload.copy(f, SESSION_DATA_HEADER_BYTES)
  return f
}

test('1,000 out-of-order 1 MiB frames: the reorder buffer stays within its byte budget, typed, logged once per overflow, counted', t => {
  const { logger: log, lines } = capturing()
  const resets: SessionBudgetError[] = []
  const delivered: number[] = []
  const b = createSession({}, {
    logger: log,
    transmit: () => 'wireguard',
    deliver: (_h, bytes, start) => { delivered.push(Buffer.from(bytes.buffer, bytes.byteOffset).readUInt32BE(start)) },
    badFrame: () => {},
    resetPaths: (_h, err) => { resets.push(err) }
  })
  t.teardown(() => { b.stop() })
  const payload = Buffer.alloc(1024 * 1024, 1)
  let highest = 0
  for (let seq = 2; seq <= 1001; seq++) {
    payload.writeUInt32BE(seq, 0)
    b.receive('a', dataFrame(7, seq, 1, payload))
    highest = Math.max(highest, b.stats().reorderBytes)
  }
  t.true(highest <= DEFAULT_MAX_REORDER_BYTES, `${highest} bytes held`)
  const stats = b.stats()
  t.true(stats.reorderOverflows >= 1000 / 33, `${stats.reorderOverflows} overflows`)
  t.is(resets.length, stats.reorderOverflows)
  t.true(resets.every(e => e instanceof SessionBudgetError && e.code === 'ERR_SESSION_BUDGET' && e.details?.budget === 'reorder'))
  t.is(lines.filter(l => l.code === 'ERR_SESSION_BUDGET').length, stats.reorderOverflows)
  // The missing frame comes: what was dropped is not delivered from memory (the sender sends it again).
  payload.writeUInt32BE(1, 0)
  b.receive('a', dataFrame(7, 1, 1, payload))
  t.deepEqual(delivered, [1])
  t.true(b.stats().reorderBytes <= DEFAULT_MAX_REORDER_BYTES)
})

test('a reorder overflow loses nothing and duplicates nothing: the sender, its paths reset, sends it all again in order', async t => {
  const p = pair({ ackEvery: 1000, b: { maxReorderBytes: 2048 } })
  p.onReset(() => {
    // The paths to the sender close: what was in flight on them is gone, and the sender notices.
    p.wires.a = []
    p.setPath('hyperswarm')
    p.a.pathLost('b', 'wireguard')
    p.a.pathLost('b', 'hyperswarm')
  })
  p.setPath('hyperswarm')
  p.a.send('b', Buffer.from('m0'))
  p.setPath('wireguard')
  const sent = ['m0']
  for (let i = 1; i < 50; i++) { sent.push(`m${i}`); p.a.send('b', Buffer.from(`m${i}`)) }
  p.flush(f => f.path === 'wireguard')
  t.true(p.resets.length >= 1)
  p.flush()
  t.deepEqual(p.delivered.b, sent)
  await retry(() => { p.flush(); return p.a.unacked('b') === 0 }, { what: 'all acknowledged' })
  t.deepEqual(p.delivered.b, sent)
})

test('a peer that never acknowledges: sends stop at the unacked byte budget with a typed error, logged once; acks make room again', async t => {
  const { logger: log, lines } = capturing()
  const p = pair({ ackEvery: 1000, logger: log })
  const payload = Buffer.alloc(1024 * 1024)
  const failures: Error[] = []
  for (let i = 0; i < 100; i++) p.a.send('b', payload, (e) => { failures.push(e) })
  const stats = p.a.stats()
  t.true(stats.unackedBytes <= DEFAULT_MAX_UNACKED_BYTES, `${stats.unackedBytes} bytes unacknowledged`)
  t.true(p.a.unacked('b') >= 60 && p.a.unacked('b') < 100, `${p.a.unacked('b')} unacknowledged`)
  t.is(failures.length, 100 - p.a.unacked('b'))
  t.true(failures.every(e => e instanceof SessionBudgetError && e.details?.budget === 'unacked'))
  t.is(stats.unackedRefusals, failures.length)
  t.is(lines.filter(l => l.code === 'ERR_SESSION_BUDGET').length, 1)
  // The peer catches up and acknowledges: the queue empties and sends go through again.
  await retry(() => { p.flush(); return p.a.unacked('b') === 0 }, { what: 'all acknowledged' })
  t.is(p.a.stats().unackedBytes, 0)
  const refused = failures.length
  p.a.send('b', Buffer.from('again'), (e) => { failures.push(e) })
  p.flush()
  t.is(p.delivered.b.at(-1), 'again')
  t.is(failures.length, refused)
})

test('a filled gap releases the frames held behind it a turn budget at a time, in order, once each (a duplicate of one still held is dropped)', async t => {
  const delivered: number[] = []
  let turn = 0
  let ticking = true
  const tick = (): void => { turn++; if (ticking) setImmediate(tick) }
  tick()
  const perTurn = new Map<number, number>()
  const receiver = createSession({ releaseBudgetMs: 1, ackEvery: 1_000_000 }, {
    logger,
    transmit: () => 'test',
    deliver: (_host, bytes, start) => {
      const until = performance.now() + 0.2
      while (performance.now() < until);
      perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1)
      delivered.push(Buffer.from(bytes.buffer, bytes.byteOffset).readUInt32BE(start))
    },
    badFrame: (_host, err) => { t.fail(err.message) },
    resetPaths: () => { t.fail('no reset') }
  })
  t.teardown(() => { receiver.stop() })
  const frame = (seq: number): Buffer => {
    const f = Buffer.alloc(SESSION_DATA_HEADER_BYTES + 4)
    f[0] = SESSION_DATA
    f.writeUInt32BE(7, 1)
    f.writeUInt32BE(seq, 5)
    f.writeUInt32BE(1, 9)
    f.writeUInt32BE(seq, SESSION_DATA_HEADER_BYTES)
    return f
  }
  const n = 1000
  for (let seq = 2; seq <= n; seq++) receiver.receive('peer', frame(seq))
  t.deepEqual(delivered, [], 'all held behind the gap')
  receiver.receive('peer', frame(1))
  const first = delivered.length
  t.true(first < 50, `the filling frame's turn handed on ${first} frames, not all ${n}`)
  receiver.receive('peer', frame(first + 1))
  await retry(() => delivered.length === n, { timeoutMs: 30_000, what: `${n} frames` })
  ticking = false
  t.deepEqual(delivered, [...Array(n).keys()].map(i => i + 1), 'in order, each once')
  t.true(Math.max(...perTurn.values()) < 50, `at most ${Math.max(...perTurn.values())} frames of 0.2 ms in one turn with a 1 ms budget`)
  t.is(receiver.stats().reorderBytes, 0, 'nothing left held')
})

test('frames held from the transport ring go back to it when the peer starts a new epoch (the old epoch\'s gap will never fill)', t => {
  const memory = createRingMemory(64 * 1024)
  const w = createRingWriter(memory)
  const r = createRingReader(memory)
  const delivered: string[] = []
  const b = createSession({}, { logger, transmit: () => 'wireguard', deliver: (_h, bytes, start, end) => { delivered.push(Buffer.from(bytes.subarray(start, end)).toString()) }, badFrame: () => {}, resetPaths: () => {} })
  t.teardown(() => { b.stop() })
  const receive = (frame: Buffer): void => {
    const slot = w.put(frame)
    if (slot === null) throw new Error('no room')
    const view = r.view(slot.offset, frame.byteLength)
    r.begin(view, slot.mark)
    b.receive('a', view)
    r.end()
    r.release()
  }
  for (let seq = 5; seq <= 8; seq++) receive(dataFrame(7, seq, 1, Buffer.alloc(1000, seq)))
  t.is(w.used(), 4 * (SESSION_DATA_HEADER_BYTES + 1000), 'held in place, ahead of the gap at 1')
  receive(dataFrame(8, 1, 1, Buffer.from('new epoch')))
  t.deepEqual(delivered, ['new epoch'])
  t.is(w.used(), 0, 'the old epoch\'s held frames are let go')
})

test('a failure names the payload by its token, whichever of thousands in flight it is, and the sender\'s own token comes back', t => {
  const p = pair({ ackEvery: 100_000 })
  const failed: Array<[string, number]> = []
  for (let i = 0; i < 5_000; i++) p.a.send('b', Buffer.from(`m${i}`), (e, token) => { failed.push([e.message, token]) }, 7_000 + i)
  // Acknowledge the first 3,000 (so the sender compacts), then fail two of the rest from below.
  for (const f of p.wires.a.slice(0, 3_000)) p.b.receive('a', f.frame)
  p.a.receive('b', p.b.ackFrame('a'))
  t.is(p.a.unacked('b'), 2_000)
  p.wires.a[4_321]?.onFailure?.(new Error('gone'))
  p.wires.a[3_000]?.onFailure?.(new Error('gone too'))
  p.wires.a[10]?.onFailure?.(new Error('acknowledged already'))
  t.deepEqual(failed, [['gone', 11_321], ['gone too', 10_000]])
  t.is(p.a.unacked('b'), 1_998)
  t.is(p.a.fail('b', new Error('host down')), 1_998)
  t.is(failed.length, 2_000)
  t.deepEqual(failed.at(-1), ['host down', 11_999])
})

test('payloads written in place and sent as buffers, small and large, across many slabs: every frame carries its length prefix before it, and they arrive byte-exact and in order, read as ranges inside larger buffers', t => {
  let wire: Buffer[] = []
  const got: string[] = []
  const a = createSession({}, {
    logger,
    transmit: (_h, frame) => {
      t.is(Buffer.from(frame.buffer, frame.byteOffset - 4, 4).readUInt32BE(0), frame.byteLength, 'the 4 bytes before a frame are its length')
      wire.push(Buffer.from(frame))
      return 'wireguard'
    },
    deliver: () => { t.fail('a only sends') },
    badFrame: (_h, err) => { t.fail(err.message) },
    resetPaths: () => { t.fail('no reset') }
  })
  const b = createSession({ ackEvery: 1_000_000 }, {
    logger,
    transmit: () => 'wireguard',
    deliver: (_h, bytes, start, end) => { got.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1')) },
    badFrame: (_h, err) => { t.fail(err.message) },
    resetPaths: () => { t.fail('no reset') }
  })
  t.teardown(() => { a.stop(); b.stop() })
  const sent: string[] = []
  for (let i = 0; i < 3_000; i++) {
    const size = i % 500 === 7 ? 70_000 + i : 1 + (i * 37) % 900
    const text = `${i}:`.padEnd(size, String.fromCharCode(97 + i % 26))
    sent.push(text)
    if (i % 3 === 0 || size > 16_000) {
      a.send('b', Buffer.from(text, 'latin1'))
      continue
    }
    const target = a.sendTarget()
    t.true(target.bytes.byteLength - target.at >= 1_000, 'at least the room a small body needs')
    const end = target.at + Buffer.from(target.bytes.buffer, target.bytes.byteOffset).write(text, target.at, 'latin1')
    a.commit('b', end)
  }
  t.is(wire.length, sent.length)
  for (const [i, frame] of wire.entries()) {
    const junk = 1 + i % 5
    const inside = Buffer.concat([Buffer.alloc(junk, 0xc1), frame, Buffer.alloc(junk, 0xd5)])
    b.receiveRange('a', inside, junk, junk + frame.byteLength)
  }
  t.is(got.length, sent.length)
  t.true(got.every((g, i) => g === sent[i]), 'byte-exact, in order')
  t.is(a.unacked('b'), sent.length)
  const first = wire
  wire = []
  t.is(a.pathLost('b', 'wireguard'), sent.length, 'all sent again')
  t.true(wire.every((f, i) => f.subarray(SESSION_DATA_HEADER_BYTES).equals((first[i] as Buffer).subarray(SESSION_DATA_HEADER_BYTES))), 'the frames kept for sending again are intact')
})

test('an in-place send refused for the unacked budget keeps nothing and reports the failure', t => {
  const failures: Error[] = []
  const a = createSession({ maxUnackedBytes: 1_000 }, { logger, transmit: () => 'wireguard', deliver: () => {}, badFrame: () => {}, resetPaths: () => {} })
  t.teardown(() => { a.stop() })
  a.send('b', Buffer.alloc(900))
  const target = a.sendTarget()
  target.bytes.fill(1, target.at, target.at + 500)
  a.commit('b', target.at + 500, (err) => { failures.push(err) })
  t.is(failures.length, 1)
  t.true(failures[0] instanceof SessionBudgetError)
  t.is(a.unacked('b'), 1)
})
