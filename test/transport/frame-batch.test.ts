import test from 'ava'
import { encodeFrames } from '../../src/codec/frame.js'
import { createFrameBatcher, createFrameCursor, forEachFrame, TYPED_FROM, type FramesBatch } from '../../src/transport/frame-batch.js'
import { createRingMemory, createRingReader, createRingWriter, type RingReader } from '../../src/transport/frame-ring.js'

/** The frames of a batch as the agent's side reads them: per host, the bytes as text. */
function framesOf (b: FramesBatch, ring?: RingReader): Array<[string, string]> {
  const out: Array<[string, string]> = []
  forEachFrame(b, ring, (host, payload) => { out.push([host, payload.toString()]) })
  return out
}

test('a batch of a few small frames goes over in a buffer of their size, and the next batches read right', t => {
  const batcher = createFrameBatcher()
  t.is(batcher.take(), null)
  batcher.add('a', Buffer.from('ping'))
  batcher.add('b', Buffer.from('ack'))
  const first = batcher.take()
  if (first === null) { t.fail('no batch'); return }
  t.deepEqual(first.buffers.map(b => b.byteLength), [15], 'not a 64 KB chunk for two frames of 7 bytes and their length prefixes')
  t.true(Array.isArray(first.lens) && Array.isArray(first.bufs), 'a few frames: plain arrays')
  t.deepEqual(framesOf(first), [['a', 'ping'], ['b', 'ack']])
  batcher.add('c', Buffer.from('later'))
  const second = batcher.take()
  if (second === null) { t.fail('no batch'); return }
  t.deepEqual(framesOf(second), [['c', 'later']])
  t.deepEqual(framesOf(first), [['a', 'ping'], ['b', 'ack']], 'the first batch is not overwritten by the next')
})

test('a busy batch fills 64 KB chunks and gives big frames their own buffer', t => {
  const batcher = createFrameBatcher()
  const small = Buffer.alloc(1_000, 'x')
  for (let i = 0; i < 100; i++) batcher.add('a', small)
  batcher.add('b', Buffer.alloc(20_000, 'y'))
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  t.deepEqual(b.buffers.map(x => x.byteLength), [65_536, 65_536, 20_004], '65 frames of 1,004 bytes a chunk; the big one framed in its own')
  t.is([...b.lens].reduce((s, n) => s + n, 0), 120_000)
  t.true(b.lens instanceof Int32Array && b.bufs instanceof Int32Array, `${TYPED_FROM}+ frames: their lengths cross as typed arrays`)
  t.deepEqual(framesOf(b).at(-1), ['b', 'y'.repeat(20_000)])
})

test('with a ring, large frames go there while it has room and into buffers of their own after; small ones into chunks; all read back in order', t => {
  const memory = createRingMemory(96 * 1024)
  const reader = createRingReader(memory)
  const batcher = createFrameBatcher(createRingWriter(memory))
  const sent: Array<[string, string]> = []
  const add = (host: string, text: string): void => { batcher.add(host, Buffer.from(text)); sent.push([host, text]) }
  add('a', 'one')
  for (let i = 0; i < 5; i++) add('b', String(i).repeat(20_000 + i))
  add('c', 'y'.repeat(70_000))
  add('d', 'two')
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  t.deepEqual([...b.bufs].map(x => x < 0), [false, true, true, true, true, false, false, false], 'small frames in a chunk; the ring (96 KiB, 24 KiB a frame at most) takes four 20 KB frames; the fifth finds no room, the 70 KB one is over its share')
  t.deepEqual(framesOf(b, reader), sent)
  const marks: number[] = []
  forEachFrame(b, reader, (_h, _p, mark) => { marks.push(mark) })
  t.deepEqual(marks.map(m => m >= 0), [...b.bufs].map(x => x < 0))
  reader.begin(Buffer.alloc(0), Math.max(...marks))
  reader.end()
  reader.release()
  batcher.add('f', Buffer.alloc(22_000, 'z'))
  const next = batcher.take()
  if (next === null) { t.fail('no batch'); return }
  t.deepEqual([...next.bufs], [-1], 'released: the ring takes frames again')
  t.deepEqual(framesOf(next, reader), [['f', 'z'.repeat(22_000)]])
})

test('senders go over once per run of frames from the same host, and every frame is read back with its own', t => {
  const batcher = createFrameBatcher()
  const sent: Array<[string, string]> = []
  for (const [host, n] of [['a', 3], ['b', 1], ['a', 2], ['c', 4]] as const) {
    for (let i = 0; i < n; i++) { batcher.add(host, Buffer.from(`${host}${i}`)); sent.push([host, `${host}${i}`]) }
  }
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  t.deepEqual(b.hosts, ['a', 'b', 'a', 'c'])
  t.deepEqual(b.runs, [3, 1, 2, 4])
  t.deepEqual(framesOf(b), sent)
  t.throws(() => { forEachFrame({ ...b, runs: [3, 1, 2, 3] }, undefined, () => {}) }, { instanceOf: RangeError })
})

test('size counts the frames added since the last take', t => {
  const b = createFrameBatcher()
  t.is(b.size(), 0)
  b.add('h', Buffer.alloc(10))
  b.add('h', Buffer.alloc(20_000))
  t.is(b.size(), 2)
  b.take()
  t.is(b.size(), 0)
})

test('a cursor takes the frames the batcher found urgent out ahead of their turn (never from the ring, never one already read) and then passes over them', t => {
  const memory = createRingMemory(96 * 1024)
  const reader = createRingReader(memory)
  const urgent = (bytes: Uint8Array, start: number): boolean => bytes[start] === 0x21
  const batcher = createFrameBatcher(createRingWriter(memory), urgent)
  const sent: Array<[string, string]> = [['a', 'one'], ['a', '!urgent-1'], ['b', 'two'], ['b', '!' + 'r'.repeat(20_000)], ['c', '!urgent-2'], ['c', 'three']]
  for (const [h, text] of sent) batcher.add(h, Buffer.from(text))
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  const cursor = createFrameCursor(b, reader)
  t.true(cursor.next())
  t.deepEqual([cursor.host, cursor.view().toString()], ['a', 'one'])
  const early: Array<[string, string]> = []
  t.is(cursor.takeUrgent((host, payload) => { early.push([host, payload.toString()]) }), 2)
  t.deepEqual(early, [['a', '!urgent-1'], ['c', '!urgent-2']], 'the small urgent ones, in order; the large one stays in the ring, in its turn')
  const rest: string[] = []
  while (cursor.next()) rest.push(`${cursor.host}:${cursor.view().toString().slice(0, 5)}:${cursor.mark >= 0 ? 'ring' : 'chunk'}`)
  t.deepEqual(rest, ['b:two:chunk', 'b:!rrrr:ring', 'c:three:chunk'])
  t.false(cursor.next(), 'stays at the end')
  const again = createFrameCursor(b, reader)
  again.next()
  again.next()
  t.is(again.takeUrgent(() => {}), 1, "'!urgent-1' was read already: only '!urgent-2' is taken")
})

test('urgent frames found in received runs, across chunks and in buffers of their own, are read at their place', t => {
  const urgent = (bytes: Uint8Array, start: number, end: number): boolean => bytes[start] === 0x21 && end - start > 1
  const batcher = createFrameBatcher(undefined, urgent)
  batcher.add('a', Buffer.from('!first'))
  const texts = Array.from({ length: 300 }, (_, i) => (i % 37 === 5 ? `!${i}:` : `${i}:`).padEnd(500, 'x'))
  texts.splice(150, 0, '!' + 'z'.repeat(20_000))
  const run = framed(texts, 3)
  t.is(batcher.addRun('b', run.bytes, run.start, run.end, 1_024), run.end)
  batcher.add('c', Buffer.from('!last'))
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  t.true(b.buffers.length > 3, 'the run spans chunks and one frame has a buffer of its own')
  const cursor = createFrameCursor(b, undefined)
  const early: Array<[string, string]> = []
  const want = [['a', '!first'], ...texts.filter(x => x.startsWith('!')).map(x => ['b', x]), ['c', '!last']]
  t.is(cursor.takeUrgent((host, payload) => { early.push([host, payload.toString()]) }), want.length)
  t.deepEqual(early, want)
  const rest: string[] = []
  while (cursor.next()) rest.push(cursor.view().toString())
  t.deepEqual(rest, texts.filter(x => !x.startsWith('!')))
})

/** Frames as a stream carries them (length prefixes included), with `lead` bytes of something else before them. */
function framed (payloads: string[], lead = 0): { bytes: Buffer, start: number, end: number } {
  const frames = encodeFrames(payloads.map(p => Buffer.from(p)))
  return { bytes: Buffer.concat([Buffer.alloc(lead, 0xee), frames, Buffer.alloc(3, 0xee)]), start: lead, end: lead + frames.byteLength }
}

test('a received run of frames goes in a stretch at a time and reads back frame by frame, between frames added one by one', t => {
  const memory = createRingMemory(96 * 1024)
  const reader = createRingReader(memory)
  const batcher = createFrameBatcher(createRingWriter(memory))
  batcher.add('a', Buffer.from('before'))
  const texts = ['one', 'two', 'r'.repeat(20_000), 'three', 'o'.repeat(22_000), 'four', 'b'.repeat(30_000), 'five']
  const run = framed(texts, 5)
  t.is(batcher.addRun('b', run.bytes, run.start, run.end, 1_024), run.end)
  batcher.add('b', Buffer.from('after'))
  t.is(batcher.size(), 10)
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  t.deepEqual(b.hosts, ['a', 'b'])
  t.deepEqual(b.runs, [1, 9])
  t.deepEqual([...b.bufs].map(x => x < 0), [false, false, false, true, false, true, false, false, false, false], 'two large frames in the ring; one over its share (24 KiB) in a buffer of its own')
  t.deepEqual(framesOf(b, reader), [['a', 'before'], ...texts.map(x => ['b', x] as [string, string]), ['b', 'after']])
})

test('a run stops at the batch limit and goes on from where it stopped; one longer than a chunk spans chunks', t => {
  const batcher = createFrameBatcher()
  const texts = Array.from({ length: 300 }, (_, i) => `${i}:`.padEnd(500, 'x'))
  const run = framed(texts)
  const got: Array<[string, string]> = []
  let at = run.start
  let batches = 0
  while (at < run.end) {
    at = batcher.addRun('h', run.bytes, at, run.end, 128)
    const b = batcher.take()
    if (b === null) { t.fail('no batch'); return }
    batches++
    t.true(b.lens.length <= 128)
    got.push(...framesOf(b))
  }
  t.is(batches, 3)
  t.deepEqual(got, texts.map(x => ['h', x]))
  const whole = batcher.addRun('h', run.bytes, run.start, run.end, 1_024)
  const b = batcher.take()
  if (b === null) { t.fail('no batch'); return }
  t.is(whole, run.end)
  t.is(b.buffers.length, 3, '300 frames of 504 bytes: three 64 KiB chunks')
  t.deepEqual(framesOf(b), texts.map(x => ['h', x]))
})

test('a run that ends inside a frame is refused', t => {
  const batcher = createFrameBatcher()
  const run = framed(['abc', 'defg'])
  t.throws(() => batcher.addRun('h', run.bytes, run.start, run.end - 1, 1_024), { instanceOf: RangeError })
})
