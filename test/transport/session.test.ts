import test from 'ava'
import { pino } from 'pino'
import { HostUnreachableError } from '../../src/errors/errors.js'
import { createSession, SESSION_ACK, SESSION_DATA, type Session } from '../../src/transport/session.js'

const logger = pino({ level: 'silent' })

/** Two sessions joined by two in-memory "paths" that can hold, drop and reorder frames. */
function pair (opts: { ackEvery?: number } = {}) {
  const wires = { a: [] as Array<{ to: 'a' | 'b', path: string, frame: Buffer, onFailure?: (e: Error) => void }> }
  const delivered: Record<'a' | 'b', string[]> = { a: [], b: [] }
  const bad: Error[] = []
  let path = 'wireguard'
  const mk = (me: 'a' | 'b', other: 'a' | 'b'): Session => createSession({ ackEvery: opts.ackEvery ?? 1, ackDelayMs: 1 }, {
    logger,
    transmit: (_host, frame, onFailure) => {
      wires.a.push({ to: other, path, frame: Buffer.from(frame), ...(onFailure === undefined ? {} : { onFailure }) })
      return path
    },
    deliver: (_host, payload) => { delivered[me].push(payload.toString()) },
    badFrame: (_host, err) => { bad.push(err) }
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
  return { a, b, wires, delivered, bad, flush, setPath: (p: string) => { path = p } }
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
  const fresh = createSession({ epoch: (p.a.epoch % 1000) + 1 }, { logger, transmit: (_h, frame) => { p.b.receive('a', frame); return 'wireguard' }, deliver: () => {}, badFrame: () => {} })
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
