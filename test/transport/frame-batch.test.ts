import test from 'ava'
import { createFrameBatcher, type FramesBatch } from '../../src/transport/frame-batch.js'

/** The frames of a batch as the agent's side reads them: per host, the bytes as text. */
function framesOf (b: FramesBatch): Array<[string, string]> {
  const offsets = b.buffers.map(() => 0)
  return b.hosts.map((host, i) => {
    const buf = b.buffers[b.bufs[i] as number] as Uint8Array
    const at = offsets[b.bufs[i] as number] as number
    const n = b.lens[i] as number
    offsets[b.bufs[i] as number] = at + n
    return [host, Buffer.from(buf.buffer, buf.byteOffset + at, n).toString()]
  })
}

test('a batch of a few small frames goes over in a buffer of their size, and the next batches read right', t => {
  const batcher = createFrameBatcher()
  t.is(batcher.take(), null)
  batcher.add('a', Buffer.from('ping'))
  batcher.add('b', Buffer.from('ack'))
  const first = batcher.take()
  if (first === null) { t.fail('no batch'); return }
  t.deepEqual(first.buffers.map(b => b.byteLength), [7], 'not a 64 KB chunk for 7 bytes')
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
  t.deepEqual(b.buffers.map(x => x.byteLength), [65_536, 65_536, 20_000])
  t.is(b.lens.reduce((s, n) => s + n, 0), 120_000)
  t.deepEqual(framesOf(b).at(-1), ['b', 'y'.repeat(20_000)])
})
