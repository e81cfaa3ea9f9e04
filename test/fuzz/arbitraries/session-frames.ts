import fc from 'fast-check'
import { SESSION_ACK, SESSION_ACK_BYTES, SESSION_DATA, SESSION_DATA_HEADER_BYTES } from '../../../src/transport/session.js'
import { payloadBytes } from './frames.js'
import { pack, type HostileOpts, type Raw } from './hostile-values.js'

export function sessionData (epoch: number, seq: number, low: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(SESSION_DATA_HEADER_BYTES + payload.byteLength)
  b[0] = SESSION_DATA
  b.writeUInt32BE(epoch >>> 0, 1)
  b.writeUInt32BE(seq >>> 0, 5)
  b.writeUInt32BE(low >>> 0, 9)
  b.set(payload, SESSION_DATA_HEADER_BYTES)
  return b
}

export function sessionAck (epoch: number, upTo: number): Buffer {
  const b = Buffer.alloc(SESSION_ACK_BYTES)
  b[0] = SESSION_ACK
  b.writeUInt32BE(epoch >>> 0, 1)
  b.writeUInt32BE(upTo >>> 0, 5)
  return b
}

const u32 = fc.integer({ min: 0, max: 0xffffffff })

/** An envelope the target would accept and answer to nobody (a ping with no replyTo). */
const quietPing = (seq: number): Raw => pack([1, 'agent.ping', seq, '', '/agent', null, null, { seq }])

/**
 * Session-layer frames from an admitted peer (each item one frame's payload): data under epochs
 * other than `realEpoch` with sequence numbers out of order, gapped, duplicated or wrapping;
 * acks of any epoch and length; unknown tags; short frames. The real epoch is never used, so the
 * driver's own session keeps working.
 */
export function sessionFrames (realEpoch: number, opts: HostileOpts = {}): fc.Arbitrary<Raw[]> {
  const epoch = u32.filter(e => e !== realEpoch)
  const payload = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 1e6 }).map(quietPing), weight: 3 }, { arbitrary: payloadBytes({ bigWeight: 0 }), weight: 1 })
  const outOfOrder = fc.record({
    epoch,
    base: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(0xffffffff - 4), u32),
    seqs: fc.array(fc.integer({ min: 0, max: 64 }), { minLength: 1, maxLength: 48 }),
    low: fc.option(u32, { nil: undefined }),
    payloads: fc.array(payload, { minLength: 1, maxLength: 4 })
  }).map(r => r.seqs.map((d, i) => sessionData(r.epoch, r.base + d, r.low ?? r.base, r.payloads[i % r.payloads.length] as Raw)))
  const bigGap = fc.record({ epoch, n: fc.integer({ min: 1, max: 8 }), size: fc.constantFrom(16 * 1024, 256 * 1024, 1024 * 1024 - 64) })
    // Frames ahead of a gap that never fills: what issue 13 saw held as 1 GB by the reorder buffer.
    .map(r => Array.from({ length: r.n }, (_, i) => sessionData(r.epoch, 10 + i, 1, Buffer.alloc(r.size, 0x61))))
  const acks = fc.array(fc.oneof(
    fc.tuple(u32, u32).map(([e, n]) => sessionAck(e, n)),
    fc.uint8Array({ minLength: 0, maxLength: 20 }).map(b => Buffer.concat([Buffer.from([SESSION_ACK]), b]))
  ), { minLength: 1, maxLength: 4 })
  const odd = fc.array(fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: SESSION_DATA_HEADER_BYTES - 1 }).map(b => Buffer.concat([Buffer.from([SESSION_DATA]), b])),
    fc.tuple(fc.integer({ min: 0, max: 255 }).filter(t => t !== SESSION_DATA && t !== SESSION_ACK), fc.uint8Array({ maxLength: 32 })).map(([t, b]) => Buffer.concat([Buffer.from([t]), b])),
    fc.constant(Buffer.alloc(0))
  ), { minLength: 1, maxLength: 4 })
  return fc.oneof(
    { arbitrary: outOfOrder, weight: 6 },
    { arbitrary: bigGap, weight: opts.bigWeight ?? 1 },
    { arbitrary: acks, weight: 2 },
    { arbitrary: odd, weight: 2 })
}
