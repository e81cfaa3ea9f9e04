import test from 'ava'
import { randomBytes } from 'node:crypto'
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, encodeFrames, FRAME_HEADER_BYTES, FrameDecoder } from '../../src/codec/frame.js'
import { FrameTooLargeError } from '../../src/errors/errors.js'

interface Collected {
  decoder: FrameDecoder
  frames: Buffer[]
  errors: FrameTooLargeError[]
}

function collect (maxFrameBytes?: number): Collected {
  const frames: Buffer[] = []
  const errors: FrameTooLargeError[] = []
  const decoder = new FrameDecoder({
    ...(maxFrameBytes === undefined ? {} : { maxFrameBytes }),
    // Copy: a decoder may hand out views into a buffer it goes on using.
    onFrame: (p) => { frames.push(Buffer.from(p)) },
    onError: (e) => { errors.push(e) }
  })
  return { decoder, frames, errors }
}

/** Pushes `bytes` in chunks whose sizes cycle through `sizes`. */
function pushChunked (decoder: FrameDecoder, bytes: Buffer, sizes: number[]): void {
  let offset = 0
  let i = 0
  while (offset < bytes.byteLength) {
    const size = sizes[i % sizes.length] as number
    decoder.push(bytes.subarray(offset, offset + size))
    offset += size
    i++
  }
}

const payloads = [
  Buffer.from('a'),
  Buffer.alloc(0),
  Buffer.from('hello frames'),
  randomBytes(300),
  randomBytes(5),
  Buffer.from([0, 0, 0, 0])
]
const stream = encodeFrames(payloads)

test('encodeFrame writes a 4-byte big-endian length then the payload', t => {
  const f = encodeFrame(Buffer.from('abc'))
  t.is(f.byteLength, FRAME_HEADER_BYTES + 3)
  t.is(f.readUInt32BE(0), 3)
  t.is(f.subarray(4).toString(), 'abc')
  t.deepEqual(encodeFrame(new Uint8Array(0)), Buffer.from([0, 0, 0, 0]))
})

test('encodeFrames equals the concatenation of encodeFrame for each payload', t => {
  t.deepEqual(encodeFrames(payloads), Buffer.concat(payloads.map(p => encodeFrame(p))))
  t.deepEqual(encodeFrames([]), Buffer.alloc(0))
  t.deepEqual(encodeFrames([payloads[3] as Buffer]), encodeFrame(payloads[3] as Buffer))
})

test('several frames in one chunk all decode, in order', t => {
  const c = collect()
  c.decoder.push(stream)
  t.deepEqual(c.frames, payloads)
  t.deepEqual(c.errors, [])
  t.is(c.decoder.buffered, 0)
})

test('frames split byte by byte decode the same', t => {
  const c = collect()
  pushChunked(c.decoder, stream, [1])
  t.deepEqual(c.frames, payloads)
  t.deepEqual(c.errors, [])
  t.is(c.decoder.buffered, 0)
})

test('frames split at arbitrary chunk boundaries decode the same', t => {
  const patterns = [[2], [3], [5, 1, 7], [4], [13, 2], [299, 1, 3], [1000]]
  for (const sizes of patterns) {
    const c = collect()
    pushChunked(c.decoder, stream, sizes)
    t.deepEqual(c.frames, payloads, `chunk sizes ${sizes.join(',')}`)
    t.deepEqual(c.errors, [])
  }
})

test('every single split point of the stream decodes the same', t => {
  for (let cut = 0; cut <= stream.byteLength; cut++) {
    const c = collect()
    c.decoder.push(stream.subarray(0, cut))
    c.decoder.push(stream.subarray(cut))
    t.deepEqual(c.frames, payloads, `cut at ${cut}`)
  }
})

test('an incomplete frame is held until the rest arrives', t => {
  const c = collect()
  const f = encodeFrame(Buffer.from('abcdef'))
  c.decoder.push(f.subarray(0, 6))
  t.deepEqual(c.frames, [])
  t.is(c.decoder.buffered, 6)
  c.decoder.push(f.subarray(6))
  t.deepEqual(c.frames, [Buffer.from('abcdef')])
  t.is(c.decoder.buffered, 0)
})

test('default limit is 1 MiB', t => {
  t.is(DEFAULT_MAX_FRAME_BYTES, 1024 * 1024)
  const c = collect()
  const header = Buffer.alloc(4)
  header.writeUInt32BE(DEFAULT_MAX_FRAME_BYTES + 1)
  c.decoder.push(header)
  t.is(c.errors.length, 1)
})

const MAX = 64
const before = Buffer.from('before')
const big = randomBytes(1000)
const after = [Buffer.from('after-1'), randomBytes(MAX), Buffer.from('after-3')]
const withOversized = encodeFrames([before, big, ...after])

function checkOversized (t: import('ava').ExecutionContext, c: Collected): void {
  t.deepEqual(c.frames, [before, ...after])
  t.is(c.errors.length, 1)
  const err = c.errors[0]
  t.true(err instanceof FrameTooLargeError)
  t.is(err?.code, 'ERR_FRAME_TOO_LARGE')
  t.deepEqual(err?.details, { length: big.byteLength, max: MAX })
  t.is(c.decoder.buffered, 0)
}

test('an oversized frame in one chunk yields FrameTooLargeError and is skipped; later frames decode', t => {
  const c = collect(MAX)
  c.decoder.push(withOversized)
  checkOversized(t, c)
})

test('an oversized frame arriving byte by byte is skipped; later frames decode', t => {
  const c = collect(MAX)
  pushChunked(c.decoder, withOversized, [1])
  checkOversized(t, c)
})

test('an oversized frame split at arbitrary boundaries is skipped; later frames decode', t => {
  for (const sizes of [[7], [100], [3, 250, 1], [503], [4, 1000, 17], [1010]]) {
    const c = collect(MAX)
    pushChunked(c.decoder, withOversized, sizes)
    checkOversized(t, c)
  }
})

test('oversized frame with its body in a later chunk than its header is skipped', t => {
  const c = collect(MAX)
  const start = encodeFrame(before).byteLength
  c.decoder.push(withOversized.subarray(0, start + 4))
  t.is(c.errors.length, 1)
  // The remaining body of the big frame never gets buffered.
  c.decoder.push(withOversized.subarray(start + 4, start + 500))
  t.is(c.decoder.buffered, 0)
  c.decoder.push(withOversized.subarray(start + 500))
  checkOversized(t, c)
})

test('a frame exactly at the limit is delivered', t => {
  const c = collect(MAX)
  const exact = randomBytes(MAX)
  c.decoder.push(encodeFrame(exact))
  t.deepEqual(c.frames, [exact])
  t.deepEqual(c.errors, [])
})

test('two oversized frames in a row are both reported and skipped', t => {
  const c = collect(MAX)
  const bytes = encodeFrames([randomBytes(MAX + 1), randomBytes(200), Buffer.from('ok')])
  pushChunked(c.decoder, bytes, [9])
  t.is(c.errors.length, 2)
  t.deepEqual(c.frames, [Buffer.from('ok')])
})

test('a raised limit applies from the next frame, even one already in the chunk being split (a hello, then big frames)', t => {
  const frames: Buffer[] = []
  const errors: FrameTooLargeError[] = []
  const decoder: FrameDecoder = new FrameDecoder({
    maxFrameBytes: MAX,
    onFrame: (p) => {
      frames.push(Buffer.from(p))
      if (frames.length === 1) decoder.setMaxFrameBytes(2000)
    },
    onError: (e) => { errors.push(e) }
  })
  const hello = Buffer.from('hello')
  decoder.push(encodeFrames([hello, big, randomBytes(2001), Buffer.from('ok')]))
  t.deepEqual(frames, [hello, big, Buffer.from('ok')])
  t.is(errors.length, 1)
  t.like(errors[0]?.details, { length: 2001, max: 2000 })
})

/** A decoder whose frames go to onRun once `runs()` is called; the runs are split back into frames (copied) in order, with the calls seen. */
function collectRuns (maxFrameBytes: number): Collected & { calls: string[] } {
  const c = collect(maxFrameBytes)
  const calls: string[] = []
  const decoder = new FrameDecoder({
    maxFrameBytes,
    onFrame: (p) => { calls.push('frame'); c.frames.push(Buffer.from(p)) },
    onRun: (bytes, start, end) => {
      calls.push('run')
      for (let at = start; at < end;) {
        const n = bytes.readUInt32BE(at)
        c.frames.push(Buffer.from(bytes.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + n)))
        at += FRAME_HEADER_BYTES + n
      }
    },
    onError: (e) => { calls.push('error'); c.errors.push(e) }
  })
  return { ...c, decoder, calls }
}

test('once runs are on, a chunk\'s whole frames go out in one run; a frame split across chunks and an oversized one keep their order', t => {
  const c = collectRuns(1_000)
  const first = encodeFrame(Buffer.from('hello'))
  // The hello's handler turns runs on: the frames after it in the same chunk come as a run.
  const decoder = c.decoder
  const onFirst = c.calls.length
  decoder.push(first)
  t.deepEqual(c.calls.slice(onFirst), ['frame'], 'runs off: one frame at a time')
  decoder.runs()
  const stream = Buffer.concat([encodeFrames([Buffer.from('a'), Buffer.from('bb')]), encodeFrame(Buffer.alloc(2_000, 1)), encodeFrames([Buffer.from('ccc'), Buffer.alloc(600, 2)])])
  decoder.push(stream.subarray(0, stream.byteLength - 100))
  decoder.push(stream.subarray(stream.byteLength - 100))
  t.deepEqual(c.calls, ['frame', 'run', 'error', 'run', 'run'], 'the run before the oversized frame goes out before its error; the split frame arrives in a run of its own')
  t.deepEqual(c.frames.map(f => f.byteLength), [5, 1, 2, 3, 600])
  t.is(c.errors.length, 1)
})

test('without onRun, runs() changes nothing', t => {
  const c = collect()
  c.decoder.runs()
  c.decoder.push(encodeFrames([Buffer.from('x'), Buffer.from('yz')]))
  t.deepEqual(c.frames.map(f => f.toString()), ['x', 'yz'])
})
