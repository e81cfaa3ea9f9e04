import test from 'ava'
import { FrameDecoder } from '../../src/codec/frame.js'
import { FrameWriter } from '../../src/codec/frame-writer.js'

test('payloads written in one turn go out as one write of frames, in order', async t => {
  const writes: Buffer[] = []
  const w = new FrameWriter({ write: (b) => writes.push(b) })
  w.write(Buffer.from('a'))
  w.write(Buffer.from('bb'))
  w.write(Buffer.from('ccc'))
  t.is(writes.length, 0, 'nothing is written synchronously')
  await Promise.resolve()
  t.is(writes.length, 1)
  const got: string[] = []
  new FrameDecoder({ onFrame: (p) => got.push(p.toString()), onError: () => t.fail() }).push(writes[0]!)
  t.deepEqual(got, ['a', 'bb', 'ccc'])
  w.write(Buffer.from('d'))
  await Promise.resolve()
  t.is(writes.length, 2, 'a later turn makes another write')
})

test('flush writes at once; clear drops what is queued', async t => {
  const writes: Buffer[] = []
  const w = new FrameWriter({ write: (b) => writes.push(b) })
  w.write(Buffer.from('x'))
  w.flush()
  t.is(writes.length, 1)
  w.write(Buffer.from('y'))
  w.clear()
  await Promise.resolve()
  t.is(writes.length, 1)
})

/** `texts` as frames end to end in one buffer with `gap` junk bytes before each; returns each payload's view. */
function framedIn (texts: string[], gap = 0): Buffer[] {
  const total = texts.reduce((n, s) => n + gap + 4 + s.length, 0)
  const buf = Buffer.alloc(total, 0xee)
  const views: Buffer[] = []
  let at = 0
  for (const s of texts) {
    at += gap
    buf.writeUInt32BE(s.length, at)
    buf.write(s, at + 4, 'latin1')
    views.push(buf.subarray(at + 4, at + 4 + s.length))
    at += 4 + s.length
  }
  return views
}

test('framed payloads that follow one another in memory go out as one view of it, not a copy', async t => {
  const writes: Buffer[] = []
  const w = new FrameWriter({ write: (b) => writes.push(b) })
  const views = framedIn(['one', 'two', 'three'])
  for (const v of views) w.writeFramed(v)
  await Promise.resolve()
  t.is(writes.length, 1)
  t.is(writes[0]!.buffer, views[0]!.buffer, 'the write is the frames\' own memory')
  t.is(writes[0]!.byteOffset, views[0]!.byteOffset - 4)
  const got: string[] = []
  new FrameDecoder({ onFrame: (p) => got.push(p.toString()), onError: () => t.fail() }).push(writes[0]!)
  t.deepEqual(got, ['one', 'two', 'three'])
})

test('framed payloads apart in memory, and plain ones between them, go out in order in one write', async t => {
  const writes: Buffer[] = []
  const w = new FrameWriter({ write: (b) => writes.push(b) })
  const [a, b, c] = framedIn(['a1', 'b22', 'c333'], 3)
  const [d] = framedIn(['d4444'])
  w.writeFramed(a!)
  w.writeFramed(b!)
  w.write(Buffer.from('plain'))
  w.writeFramed(c!)
  w.writeFramed(d!)
  w.write(Buffer.from('end'))
  await Promise.resolve()
  t.is(writes.length, 1)
  const got: string[] = []
  new FrameDecoder({ onFrame: (p) => got.push(p.toString()), onError: () => t.fail() }).push(writes[0]!)
  t.deepEqual(got, ['a1', 'b22', 'plain', 'c333', 'd4444', 'end'])
})
