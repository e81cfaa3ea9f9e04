import { createConnection } from 'node:net'
import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import { FrameWriter } from '../../src/codec/frame-writer.js'
import { BATCH, PAYLOAD } from './driver-actor.js'

/** The raw side of a bench: the same messages, framing and codec over a bare TCP connection. */
export interface RawTcpClient {
  latency: (n: number) => Promise<number[]>
  dispatch: (n: number) => Promise<{ elapsedMs: number, delivered: number }>
  stop: () => void
}

export async function rawTcpClient (host: string, port: number): Promise<RawTcpClient> {
  const codec = createCodec()
  const socket = createConnection({ host, port, noDelay: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('error', () => {})
  const waiters = new Map<number, (msg: { count: number }) => void>()
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const msg = codec.decode(payload) as { seq: number, count: number }
      waiters.get(msg.seq)?.(msg)
      waiters.delete(msg.seq)
    },
    onError: () => {}
  })
  socket.on('data', (c: Buffer) => { decoder.push(c) })
  const writer = new FrameWriter(socket)
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
    },
    stop () { socket.destroy() }
  }
}
