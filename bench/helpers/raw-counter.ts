import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import { FrameWriter } from '../../src/codec/frame-writer.js'
import { BATCH, PAYLOAD } from './driver-actor.js'

/** A byte stream both raw peers run over (a hyperswarm stream, a TCP socket). */
export interface RawStream {
  write: (chunk: Buffer) => unknown
  on: (event: 'data', fn: (chunk: Buffer) => void) => unknown
}

/** The raw server's side of one stream: counts frames, answers those that ask ({ask: true}) with the count. */
export function serveRawCounter (stream: RawStream): void {
  const codec = createCodec()
  let count = 0
  const writer = new FrameWriter(stream)
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const msg = codec.decode(payload) as { seq: number, ask?: boolean, payload?: string }
      count++
      if (msg.ask !== true) return
      writer.write(codec.encode({ seq: msg.seq, count, payload: msg.payload }))
    },
    onError: () => {}
  })
  stream.on('data', (c: Buffer) => { decoder.push(c) })
}

/** The raw side of a bench: the same messages, framing and codec as the actors', with nothing else. */
export interface RawClient {
  latency: (n: number) => Promise<number[]>
  dispatch: (n: number) => Promise<{ elapsedMs: number, delivered: number }>
}

export function rawCounterClient (stream: RawStream): RawClient {
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
  const ask = async (seq: number): Promise<{ count: number }> => await new Promise(resolve => {
    waiters.set(seq, resolve)
    write({ seq, ask: true, payload: PAYLOAD })
  })
  let seq = 0
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
      const before = (await ask(seq++)).count
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        write({ seq: seq++, payload: PAYLOAD })
        if ((i + 1) % BATCH === 0) await new Promise(resolve => setImmediate(resolve))
      }
      const after = (await ask(seq++)).count
      return { elapsedMs: performance.now() - t0, delivered: after - before - 1 }
    }
  }
}
