import HyperDHT, { type KeyPair } from 'hyperdht'
import type { NoiseStream } from 'hyperswarm'
import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'

/** How one unadmitted connection ended. */
export interface OutsiderOutcome {
  /** The connection opened and the bytes were written. */
  delivered: boolean
  /** The target answered with a refusal frame or closed the connection (anything else within the time is a hang). */
  refused: boolean
}

/**
 * Connections to the target from hosts with no secret (a fresh key each, as the target keeps a
 * refused key out for a while): each writes one case's bytes where the hello is due.
 */
export interface Outsider {
  attempt: (bytes: Buffer, timeoutMs: number) => Promise<OutsiderOutcome>
  close: () => Promise<void>
}

type Connect = (publicKey: Buffer, opts: { keyPair: KeyPair }) => NoiseStream

export async function startOutsider (init: { targetHostId: string, bootstrap: { host: string, port: number } }): Promise<Outsider> {
  const codec = createCodec()
  const dht = new HyperDHT({ bootstrap: [init.bootstrap], host: '127.0.0.1', ephemeral: true })
  await dht.ready()
  const target = Buffer.from(init.targetHostId, 'hex')
  const attempt = async (bytes: Buffer, timeoutMs: number): Promise<OutsiderOutcome> => {
    const s = (dht as unknown as { connect: Connect }).connect(target, { keyPair: HyperDHT.keyPair() })
    const outcome: OutsiderOutcome = { delivered: false, refused: false }
    let frames = 0
    let writing = false
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); s.destroy(); resolve() }
      const timer = setTimeout(done, timeoutMs)
      const decoder = new FrameDecoder({
        maxFrameBytes: 1024 * 1024,
        onFrame: (payload) => {
          // The target's own hello comes first; anything after it is its answer to ours.
          if (frames++ === 0) return
          try {
            const v = codec.decode(payload) as { refused?: unknown } | null
            // A refusal read after our bytes went out answers them (the target may cut a long write short).
            if (v !== null && typeof v === 'object' && typeof v.refused === 'string') { outcome.refused = true; outcome.delivered ||= writing; done() }
          } catch {}
        },
        onError: () => {}
      })
      s.on('data', (chunk: Buffer) => { decoder.push(chunk) })
      s.on('error', () => {})
      // The target ending the stream after our bytes went out is its answer too (a refusal-shaped first frame is closed on without one).
      s.on('end', () => { if (writing) { outcome.delivered = true; outcome.refused = true } done() })
      s.on('close', () => { if (outcome.delivered) outcome.refused = true; done() })
      s.once('open', () => {
        writing = true
        s.write(bytes, (err) => { if (err == null) outcome.delivered = true })
      })
    })
    return outcome
  }
  return { attempt, close: async () => { await dht.destroy() } }
}
