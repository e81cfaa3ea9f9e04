import type { Socket } from 'node:net'
import type { Endpoint } from 'comlink'
import type { Codec } from '../codec/codec.js'
import { encodeFrame, FrameDecoder } from '../codec/frame.js'

type Listener = (ev: { data: unknown }) => void

/** Limit for control frames; larger ones close the connection. */
export const CONTROL_MAX_FRAME_BYTES = 4 * 1024 * 1024

/**
 * A comlink endpoint over a stream socket: each comlink message is one msgpack frame.
 * A bad frame closes this connection only; `onBadInput` says why.
 */
export function socketEndpoint (socket: Socket, codec: Codec, onBadInput: (err: Error) => void): Endpoint {
  const listeners = new Set<Listener>()
  const decoder = new FrameDecoder({
    maxFrameBytes: CONTROL_MAX_FRAME_BYTES,
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
  socket.on('data', (chunk: Buffer) => { decoder.push(chunk) })
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
