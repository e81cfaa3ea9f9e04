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
