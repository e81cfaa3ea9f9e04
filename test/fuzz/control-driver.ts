import { createConnection } from 'node:net'
import { createCodec } from '../../src/codec/codec.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import type { ControlCase } from './arbitraries/control-frames.js'

/** How one control-socket connection ended. */
export interface ControlOutcome {
  delivered: boolean
  /** Every call the case required an answer to was answered. */
  answered: boolean
  /** The agent closed the connection. */
  closed: boolean
}

const codec = createCodec()

/**
 * One connection per case: writes its frames, then waits for the answers it requires, or for
 * the agent to close the connection, or `quietMs` of silence (a call comlink does not answer).
 */
export async function runControlCase (socketPath: string, c: ControlCase, opts: { timeoutMs: number, quietMs: number }): Promise<ControlOutcome> {
  const out: ControlOutcome = { delivered: false, answered: c.answerIds.length === 0, closed: false }
  const waiting = new Set(c.answerIds)
  const s = createConnection(socketPath)
  let connected = false
  await new Promise<void>(resolve => {
    let quiet: NodeJS.Timeout | undefined
    const done = (): void => { clearTimeout(timer); clearTimeout(quiet); s.destroy(); resolve() }
    const timer = setTimeout(done, opts.timeoutMs)
    const rearm = (): void => {
      clearTimeout(quiet)
      if (waiting.size === 0) quiet = setTimeout(done, opts.quietMs)
    }
    const decoder = new FrameDecoder({
      maxFrameBytes: 16 * 1024 * 1024,
      onFrame: (payload) => {
        try {
          const m = codec.decode(payload) as { id?: unknown } | null
          if (m !== null && typeof m === 'object' && typeof m.id === 'string') waiting.delete(m.id)
        } catch {}
        if (c.answerIds.length > 0 && waiting.size === 0) { out.answered = true; done() } else rearm()
      },
      onError: () => {}
    })
    s.on('data', (chunk: Buffer) => { decoder.push(chunk) })
    s.on('error', () => {})
    s.on('close', () => { out.closed = true; done() })
    s.once('connect', () => {
      connected = true
      s.write(Buffer.concat(c.chunks.map(x => x.bytes)), (err) => {
        if (err == null) out.delivered = true
        rearm()
      })
    })
  })
  // The agent may close on the first bad byte, before a long write finishes: the bytes that mattered arrived.
  if (connected && !out.delivered && out.closed && c.answerIds.length === 0) out.delivered = true
  return out
}
