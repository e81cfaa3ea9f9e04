import test from 'ava'
import { FRAME_OVERHEAD_BYTES, ReorderBuffer } from '../../src/transport/reorder-buffer.js'
import { createRingMemory, createRingReader, createRingWriter } from '../../src/transport/frame-ring.js'

test('held frames are counted in bytes with their overhead, and let go of on take, dropBelow and clear', t => {
  const r = new ReorderBuffer(10_000)
  r.add(5, Buffer.alloc(100))
  r.add(6, null)
  r.add(9, Buffer.alloc(50))
  t.is(r.bytes, 150 + 3 * FRAME_OVERHEAD_BYTES)
  t.is(r.take(6), null)
  t.is(r.take(7), undefined)
  t.is(r.bytes, 150 + 2 * FRAME_OVERHEAD_BYTES)
  r.dropBelow(9)
  t.is(r.size, 1)
  t.is(r.bytes, 50 + FRAME_OVERHEAD_BYTES)
  r.clear()
  t.is(r.bytes, 0)
})

test('a frame is held as a copy, not as a view that keeps its whole chunk alive', t => {
  const chunk = Buffer.alloc(64 * 1024, 3)
  const r = new ReorderBuffer(10_000)
  r.add(2, chunk.subarray(10, 20))
  chunk.fill(0)
  const held = r.take(2) as Buffer
  t.deepEqual(held, Buffer.alloc(10, 3))
  t.not(held.buffer, chunk.buffer)
})

test('a sequence number held twice keeps its first frame and is counted once', t => {
  const r = new ReorderBuffer(10_000)
  r.add(3, Buffer.from('first'))
  r.add(3, Buffer.from('second, longer'))
  t.is(r.bytes, 5 + FRAME_OVERHEAD_BYTES)
  t.deepEqual(r.take(3), Buffer.from('first'))
})

test('fits says whether a frame stays within the byte budget', t => {
  const r = new ReorderBuffer(1_000)
  t.true(r.fits(Buffer.alloc(1_000 - FRAME_OVERHEAD_BYTES)))
  t.false(r.fits(Buffer.alloc(1_001 - FRAME_OVERHEAD_BYTES)))
  r.add(1, Buffer.alloc(500))
  t.false(r.fits(Buffer.alloc(500)))
  t.true(r.fits(null))
})

test('a frame that is its whole buffer is held as it is; a slice of a larger chunk is copied (so the chunk is not kept alive uncounted)', t => {
  const r = new ReorderBuffer(1 << 20)
  const whole = Buffer.from(new Uint8Array(64 * 1024).fill(1).buffer)
  const chunk = Buffer.alloc(64 * 1024, 2)
  const slice = chunk.subarray(100, 200)
  r.add(1, whole)
  r.add(2, slice)
  t.is(r.take(1)?.buffer, whole.buffer, 'no 64 KiB copy')
  const held = r.take(2)
  t.not(held?.buffer, chunk.buffer)
  t.deepEqual(held, slice)
})

test('a frame in shared memory (the transport ring) is held as a copy, even one that spans its whole buffer', t => {
  const shared = new SharedArrayBuffer(64)
  const frame = Buffer.from(shared)
  frame.fill(5)
  const b = new ReorderBuffer(1024 * 1024)
  b.add(7, frame)
  frame.fill(0)
  t.deepEqual(b.take(7), Buffer.alloc(64, 5))
})

test('a frame being handed on from the transport ring is held in place, and the ring gets it back on take, dropBelow and clear', t => {
  const memory = createRingMemory(64 * 1024)
  const w = createRingWriter(memory)
  const r = createRingReader(memory)
  const b = new ReorderBuffer(1024 * 1024)
  const receive = (seq: number, fill: number): void => {
    const slot = w.put(Buffer.alloc(2000, fill))
    if (slot === null) throw new Error('no room')
    const view = r.view(slot.offset, 2000)
    r.begin(view, slot.mark)
    b.add(seq, view)
    r.end()
    r.release()
  }
  receive(5, 5)
  receive(6, 6)
  receive(7, 7)
  t.is(w.used(), 6000, 'nothing copied, nothing released')
  t.deepEqual(b.take(5), Buffer.alloc(2000, 5))
  r.release()
  t.is(w.used(), 4000)
  b.dropBelow(7)
  r.release()
  t.is(w.used(), 2000)
  b.clear()
  r.release()
  t.is(w.used(), 0)
})
