import type { Socket } from 'node:net'
import type { Endpoint } from 'comlink'
import type { Codec } from '../codec/codec.js'
import { encodeFrame, FrameDecoder } from '../codec/frame.js'
import type { ByteAccount } from './byte-budget.js'

type Listener = (ev: { data: unknown }) => void

/** Limit for control frames; larger ones close the connection. */
export const CONTROL_MAX_FRAME_BYTES = 4 * 1024 * 1024

export interface SocketEndpointOptions {
  /** Frames over this close the connection (default {@link CONTROL_MAX_FRAME_BYTES}). */
  maxFrameBytes?: number
  /** Accounts the bytes of unfinished frames; going over closes the connection. */
  account?: ByteAccount
}

/**
 * A comlink endpoint over a stream socket: each comlink message is one msgpack frame.
 * A bad frame closes this connection only; `onBadInput` says why.
 */
export function socketEndpoint (socket: Socket, codec: Codec, onBadInput: (err: Error) => void, opts: SocketEndpointOptions = {}): Endpoint {
  const listeners = new Set<Listener>()
  const account = opts.account
  const decoder = new FrameDecoder({
    maxFrameBytes: opts.maxFrameBytes ?? CONTROL_MAX_FRAME_BYTES,
    onFrame: (payload) => {
      let data: unknown
      try {
        data = codec.decode(payload)
      } catch (err) {
        onBadInput(err as Error)
        socket.destroy()
        return
      }
      if (data === null || typeof data !== 'object') {
        onBadInput(new TypeError('control frame is not an object'))
        socket.destroy()
        return
      }
      for (const l of listeners) l({ data })
    },
    onError: (err) => {
      onBadInput(err)
      socket.destroy()
    }
  })
  socket.on('data', (chunk: Buffer) => {
    if (socket.destroyed) return
    if (account === undefined) {
      decoder.push(chunk)
      return
    }
    // While a frame is unfinished the decoder holds what came so far and the new chunk at once.
    const over = account.hold(decoder.buffered + chunk.byteLength)
    if (over !== undefined) {
      onBadInput(over)
      socket.destroy()
      return
    }
    decoder.push(chunk)
    account.hold(socket.destroyed ? 0 : decoder.buffered)
  })
  if (account !== undefined) socket.once('close', () => { account.close() })
  return {
    postMessage (message: unknown) {
      if (socket.destroyed || !socket.writable) return
      socket.write(encodeFrame(codec.encode(message)))
    },
    addEventListener (_type: string, listener: unknown) {
      listeners.add(listener as Listener)
    },
    removeEventListener (_type: string, listener: unknown) {
      listeners.delete(listener as Listener)
    }
  }
}
