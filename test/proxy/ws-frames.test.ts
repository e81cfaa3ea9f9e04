import test from 'ava'
import { WsFrameTracker } from '../../src/proxy/ws-frames.js'

test('frames of every length form are followed to their ends, across any split', t => {
  const frames = [
    Buffer.from([0x81, 0x03, 0x61, 0x62, 0x63]),
    Buffer.concat([Buffer.from([0x82, 126, 0x01, 0x00]), Buffer.alloc(256, 7)]),
    Buffer.concat([Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), Buffer.alloc(65536, 8)]),
    Buffer.from([0x89, 0x80, 1, 2, 3, 4]),
    Buffer.from([0x81, 0x82, 1, 2, 3, 4, 9, 9])
  ]
  const all = Buffer.concat(frames)
  const ends = new Set<number>()
  let o = 0
  for (const f of frames) { o += f.byteLength; ends.add(o) }
  for (const step of [1, 2, 3, 7, 1000, all.byteLength]) {
    const w = new WsFrameTracker()
    const seen: number[] = []
    for (let i = 0; i < all.byteLength; i += step) {
      let part = all.subarray(i, Math.min(i + step, all.byteLength))
      let at = i
      while (part.byteLength > 0) {
        const n = w.feed(part, true)
        at += n
        part = part.subarray(n)
        if (w.atBoundary()) seen.push(at)
      }
    }
    t.deepEqual(seen, [...ends], `split every ${step} bytes`)
    t.true(w.atBoundary())
    t.false(w.closeSent)
  }
})

test('a close frame is seen once it has passed whole; an empty frame ends at its header', t => {
  const w = new WsFrameTracker()
  t.true(w.atBoundary())
  t.is(w.feed(Buffer.from([0x88, 0x02, 0x03])), 3)
  t.false(w.closeSent)
  t.false(w.atBoundary())
  w.feed(Buffer.from([0xe8]))
  t.true(w.closeSent)
  t.true(w.atBoundary())
  const e = new WsFrameTracker()
  t.is(e.feed(Buffer.from([0x8a, 0x00, 0x81, 0x00]), true), 2, 'stops after the empty pong')
})
