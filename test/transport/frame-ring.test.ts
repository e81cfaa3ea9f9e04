import test from 'ava'
import { createRingMemory, createRingReader, createRingWriter, holdInPlace, isSharedView, type RingReader, type RingWriter } from '../../src/transport/frame-ring.js'

/** The reader has handed on everything up to `mark` and lets the writer reuse it. */
function handedOn (r: RingReader, mark: number): void {
  r.begin(Buffer.alloc(0), mark)
  r.end()
  r.release()
}

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill)

/** A ring of `size` bytes with its writer and reader. */
function ringOf (size: number): { w: RingWriter, r: RingReader } {
  const memory = createRingMemory(size)
  return { w: createRingWriter(memory), r: createRingReader(memory) }
}

test('a frame put in the ring reads back at its offset, as a view of shared memory', t => {
  const { w, r } = ringOf(4096)
  const slot = w.put(Buffer.from('hello'))
  if (slot === null) { t.fail('no room'); return }
  const v = r.view(slot.offset, 5)
  t.is(v.toString(), 'hello')
  t.true(isSharedView(v))
  t.false(isSharedView(Buffer.from('x')))
})

test('the writer never overwrites bytes the reader has not released, and reuses them once released', t => {
  const { w, r } = ringOf(4096)
  const slots = []
  for (let i = 0; i < 4; i++) {
    const s = w.put(bytes(1000, i + 1))
    if (s === null) { t.fail(`frame ${i} found no room`); return }
    slots.push(s)
  }
  t.is(w.put(bytes(1000, 9)), null, 'a fifth 1000-byte frame does not fit in 4096 bytes')
  for (let i = 0; i < 4; i++) t.deepEqual(r.view((slots[i] as { offset: number }).offset, 1000), bytes(1000, i + 1))
  handedOn(r, (slots[1] as { mark: number }).mark)
  t.is(w.used(), 2000)
  const again = w.put(bytes(1000, 9))
  t.not(again, null, 'room once two frames are released')
  t.deepEqual(r.view((slots[2] as { offset: number }).offset, 1000), bytes(1000, 3), 'an unreleased frame is intact')
  t.deepEqual(r.view((slots[3] as { offset: number }).offset, 1000), bytes(1000, 4))
})

test('a frame that would run past the end starts at the ring start; the skipped tail counts until released', t => {
  const { w, r } = ringOf(4096)
  const a = w.put(bytes(1000, 1))
  const b = w.put(bytes(1000, 2))
  const c = w.put(bytes(1000, 3))
  if (a === null || b === null || c === null) { t.fail('no room'); return }
  handedOn(r, a.mark)
  const d = w.put(bytes(1000, 4))
  if (d === null) { t.fail('no room for the fourth'); return }
  t.is(d.offset, 3000)
  handedOn(r, b.mark)
  const e = w.put(bytes(1000, 5))
  if (e === null) { t.fail('no room for the wrapping frame'); return }
  t.is(e.offset, 0, 'wrapped: 96 bytes at the end were too few')
  t.deepEqual(r.view(c.offset, 1000), bytes(1000, 3))
  t.deepEqual(r.view(d.offset, 1000), bytes(1000, 4))
  t.deepEqual(r.view(e.offset, 1000), bytes(1000, 5))
  t.is(w.used(), 3096, 'c, d, the padding and e')
})

test('an empty ring starts again at its start (a quiet agent keeps touching the same pages); a frame over a quarter of the ring is refused', t => {
  const { w, r } = ringOf(4096)
  for (let i = 0; i < 5; i++) {
    const s = w.put(bytes(300, i))
    if (s === null) { t.fail('no room'); return }
    t.is(s.offset, 0)
    handedOn(r, s.mark)
    t.is(w.used(), 0)
  }
  t.is(w.put(bytes(1025, 1)), null)
  t.not(w.put(bytes(1024, 1)), null)
})

test('positions stay right past 2^31 bytes written (they travel modulo 2^31)', t => {
  const { w, r } = ringOf(1024 * 1024)
  const frame = bytes(200 * 1024, 1)
  let last = null
  for (let i = 0; i < 11_000; i++) {
    const s = w.put(frame)
    if (s === null) { t.fail(`no room at frame ${i}`); return }
    if (last !== null) handedOn(r, last.mark)
    last = s
    if (i % 1000 === 0) t.true(w.used() <= 1024 * 1024)
  }
  t.true((last?.mark ?? 0) < 2 ** 31)
  t.is(w.used(), 200 * 1024)
})

test('a frame held in place while it is handed on keeps the ring from reusing it until it is let go', t => {
  const { w, r } = ringOf(4096)
  const a = w.put(bytes(1000, 1))
  const b = w.put(bytes(1000, 2))
  if (a === null || b === null) { t.fail('no room'); return }
  const va = r.view(a.offset, 1000)
  const moved: Buffer[] = []
  const move = (copy: Buffer): void => { moved.push(copy) }
  t.is(holdInPlace(va, move), undefined, 'not while it is not being handed on')
  r.begin(va, a.mark)
  const letGo = holdInPlace(va, move)
  t.is(holdInPlace(Buffer.from(va), move), undefined, 'a copy is not in the ring')
  r.end()
  const vb = r.view(b.offset, 1000)
  r.begin(vb, b.mark)
  r.end()
  r.release()
  if (letGo === undefined) { t.fail('not held'); return }
  t.is(w.used(), 2000, 'the held frame and everything after it stay unreleased')
  t.not(w.put(bytes(1000, 3)), null)
  t.not(w.put(bytes(1000, 4)), null)
  t.is(w.put(bytes(1000, 5)), null, 'full: the writer does not wrap over the held frame')
  t.deepEqual(va, bytes(1000, 1))
  letGo()
  r.release()
  t.is(w.used(), 2000, 'let go: only the two frames not handed on yet are left')
  t.not(w.put(bytes(1000, 5)), null)
  t.is(moved.length, 0, 'a quarter of the ring held: not moved out')
})

test('held frames that keep over half the ring from the writer are copied out, oldest first, and the ring goes on', t => {
  const { w, r } = ringOf(8192)
  const held = new Map<number, Buffer>()
  const letGos: Array<() => void> = []
  const receive = (i: number): void => {
    const s = w.put(bytes(1000, i))
    if (s === null) throw new Error(`no room for frame ${i}`)
    const v = r.view(s.offset, 1000)
    r.begin(v, s.mark)
    if (i <= 2) {
      held.set(i, v)
      const letGo = holdInPlace(v, (copy) => { held.set(i, copy) })
      if (letGo === undefined) throw new Error('not held')
      letGos.push(letGo)
    }
    r.end()
    r.release()
  }
  for (let i = 1; i <= 5; i++) receive(i)
  t.false(isSharedView(held.get(1) as Buffer), 'frame 1 kept 5000 of 8192 bytes from the writer: moved out')
  t.true(isSharedView(held.get(2) as Buffer), 'frame 2 keeps 4000: stays')
  t.is(w.used(), 4000)
  receive(6)
  t.false(isSharedView(held.get(2) as Buffer))
  t.is(w.used(), 0)
  t.deepEqual(held.get(1), bytes(1000, 1))
  t.deepEqual(held.get(2), bytes(1000, 2))
  for (const letGo of letGos) letGo()
  r.release()
  t.is(w.used(), 0)
})
