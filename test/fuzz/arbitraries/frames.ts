import fc from 'fast-check'
import { FRAME_HEADER_BYTES } from '../../../src/codec/frame.js'
import { hostileRaw, jsonish, pack, type HostileOpts, type Raw } from './hostile-values.js'

/**
 * Bytes for a framed stream (4-byte big-endian length, then the payload). `closes` says the
 * bytes leave the stream framed as before (a later frame is read as one), so a driver knows
 * whether the connection can carry more after it.
 */
export interface StreamBytes {
  bytes: Buffer
  /** The stream is back at a frame boundary after these bytes. */
  aligned: boolean
  kind: 'frame' | 'oversized' | 'truncated' | 'garbage'
}

export function frameOf (payload: Uint8Array): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.byteLength)
  out.writeUInt32BE(payload.byteLength, 0)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/** Flips, cuts, inserts or duplicates bytes of `b` (never returns `b` itself). */
export function mutated (b: Raw): fc.Arbitrary<Raw> {
  if (b.byteLength === 0) return fc.uint8Array({ minLength: 1, maxLength: 8 }).map(x => Buffer.from(x))
  const at = fc.integer({ min: 0, max: b.byteLength - 1 })
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 1, max: 255 })).map(([i, x]) => { const c = Buffer.from(b); c[i] = (c[i] ?? 0) ^ x; return c }),
    at.map(i => Buffer.from(b.subarray(0, i))),
    fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([i, x]) => Buffer.concat([b.subarray(0, i), x, b.subarray(i)])),
    fc.tuple(at, at).map(([i, j]) => Buffer.concat([b, b.subarray(Math.min(i, j), Math.max(i, j) + 1)]))
  )
}

/** A payload: valid msgpack, mutated msgpack, a hostile value, or random bytes. */
export function payloadBytes (opts: HostileOpts = {}): fc.Arbitrary<Raw> {
  return fc.oneof(
    jsonish().map(pack),
    jsonish().map(pack).chain(mutated),
    hostileRaw(opts),
    fc.uint8Array({ maxLength: 256 }).map(b => Buffer.from(b))
  )
}

/**
 * Framed bytes for a stream whose frame limit is `maxFrameBytes`: frames of any payload, frames
 * whose length claims more than the limit (followed by what it claims, so the stream stays
 * aligned), and, when `allowUnaligned`, a truncated frame or bytes with no framing at all (the
 * last thing a connection receives).
 */
export function streamBytes (maxFrameBytes: number, opts: HostileOpts & { allowUnaligned: boolean }): fc.Arbitrary<StreamBytes> {
  const frame = payloadBytes(opts).map((p): StreamBytes => ({ bytes: frameOf(p), aligned: true, kind: 'frame' }))
  const several = fc.array(payloadBytes({ bigWeight: 0 }), { minLength: 2, maxLength: 8 })
    .map((ps): StreamBytes => ({ bytes: Buffer.concat(ps.map(frameOf)), aligned: true, kind: 'frame' }))
  const oversized = fc.integer({ min: 1, max: 4096 }).map((extra): StreamBytes => {
    const length = maxFrameBytes + extra
    const out = Buffer.alloc(FRAME_HEADER_BYTES + length, 0xc1)
    out.writeUInt32BE(length, 0)
    return { bytes: out, aligned: true, kind: 'oversized' }
  })
  const aligned = fc.oneof({ arbitrary: frame, weight: 8 }, { arbitrary: several, weight: 2 }, { arbitrary: oversized, weight: 1 })
  if (!opts.allowUnaligned) return aligned
  const truncated = payloadBytes({ bigWeight: 0 }).chain(p => fc.integer({ min: 0, max: Math.max(0, p.byteLength + 2) }).map((cut): StreamBytes => ({
    bytes: frameOf(p).subarray(0, Math.min(cut, FRAME_HEADER_BYTES + p.byteLength - 1)), aligned: false, kind: 'truncated'
  })))
  const lying = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 64 })).map(([n, tail]): StreamBytes => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(n, 0)
    return { bytes: Buffer.concat([head, tail]), aligned: false, kind: 'garbage' }
  })
  return fc.oneof({ arbitrary: aligned, weight: 6 }, { arbitrary: truncated, weight: 2 }, { arbitrary: lying, weight: 2 })
}
