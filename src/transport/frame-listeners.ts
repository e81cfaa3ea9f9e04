import type { EventEmitter } from 'node:events'
import type { TransportEvents } from './transport.js'

type FrameListener = TransportEvents['frame']

/**
 * A transport's `frame` listeners, called directly. EventEmitter's `emit` gathers its arguments
 * into a fresh array on every call, which a flood of frames paid once per frame; the other,
 * rarer events stay on the emitter. Listeners are kept in an array replaced on every change, so
 * one added or removed while frames are handed on takes effect from the next frame.
 */
export interface FrameListeners {
  /** Routes `on`/`off` of `frame` here and every other event to `events`. */
  on: <E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]) => void
  off: <E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]) => void
  /** Hands one frame to every listener, in the order they were added. */
  emit: (host: string, payload: Buffer) => void
}

export function createFrameListeners (events: EventEmitter): FrameListeners {
  let listeners: readonly FrameListener[] = []
  return {
    on (event, listener) {
      if (event === 'frame') listeners = [...listeners, listener as FrameListener]
      else events.on(event, listener as (...args: unknown[]) => void)
    },
    off (event, listener) {
      if (event !== 'frame') {
        events.off(event, listener as (...args: unknown[]) => void)
        return
      }
      const i = listeners.lastIndexOf(listener as FrameListener)
      if (i >= 0) listeners = [...listeners.slice(0, i), ...listeners.slice(i + 1)]
    },
    emit (host, payload) {
      const fns = listeners
      for (let i = 0; i < fns.length; i++) (fns[i] as FrameListener)(host, payload)
    }
  }
}
