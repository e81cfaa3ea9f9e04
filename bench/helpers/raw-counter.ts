import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import { FrameWriter } from '../../src/codec/frame-writer.js'
import { BATCH, PAYLOAD } from './driver-actor.js'
import { settledCount } from './settled-count.js'

const ASK_TIMEOUT_MS = 60_000

/** A byte stream both raw peers run over (a hyperswarm stream, a TCP socket). */
export interface RawStream {
  write: (chunk: Buffer) => unknown
  on: (event: 'data', fn: (chunk: Buffer) => void) => unknown
}

/**
 * The raw server's side of one stream: counts the one-way frames, answers those that ask
 * ({ask: true}) with the count so far (the asks themselves are not counted, as the sink's
 * `bench.count` is not).
 */
export function serveRawCounter (stream: RawStream): void {
  const codec = createCodec()
  let count = 0
  const writer = new FrameWriter(stream)
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const msg = codec.decode(payload) as { seq: number, ask?: boolean, payload?: string }
      if (msg.ask !== true) { count++; return }
      writer.write(codec.encode({ seq: msg.seq, count, payload: msg.payload }))
    },
    onError: () => {}
  })
  stream.on('data', (c: Buffer) => { decoder.push(c) })
}

/** One side of a dispatch bench (roost's or the raw peer's): the same two measurements. */
export interface DispatchPeer {
  /** n asks one at a time; each round trip in ms. */
  latency: (n: number) => Promise<number[]>
  /** n one-way messages; ms until the receiver has counted them all, and how many it counted. */
  dispatch: (n: number) => Promise<{ elapsedMs: number, delivered: number }>
}

/** The raw side of a bench: the same messages, framing and codec as the actors', with nothing else. */
export function rawCounterClient (stream: RawStream): DispatchPeer {
  const codec = createCodec()
  const waiters = new Map<number, (msg: { count: number }) => void>()
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const msg = codec.decode(payload) as { seq: number, count: number }
      waiters.get(msg.seq)?.(msg)
      waiters.delete(msg.seq)
    },
    onError: () => {}
  })
  stream.on('data', (c: Buffer) => { decoder.push(c) })
  const writer = new FrameWriter(stream)
  const write = (msg: unknown): void => { writer.write(codec.encode(msg)) }
  const ask = async (seq: number): Promise<{ count: number }> => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { waiters.delete(seq); reject(new Error(`raw peer: no answer to ask ${seq} within ${ASK_TIMEOUT_MS} ms`)) }, ASK_TIMEOUT_MS)
    waiters.set(seq, (msg) => { clearTimeout(timer); resolve(msg) })
    write({ seq, ask: true, payload: PAYLOAD })
  })
  let seq = 0
  const count = async (): Promise<number> => (await ask(seq++)).count
  return {
    async latency (n) {
      const samples: number[] = []
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        await ask(seq++)
        samples.push(performance.now() - t0)
      }
      return samples
    },
    async dispatch (n) {
      const before = await count()
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        write({ seq: seq++, payload: PAYLOAD })
        if ((i + 1) % BATCH === 0) await new Promise(resolve => setImmediate(resolve))
      }
      const after = await settledCount(count, before + n)
      return { elapsedMs: after.at - t0, delivered: after.count - before }
    }
  }
}
