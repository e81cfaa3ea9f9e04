import type { EventEmitter } from 'node:events'
import type { TransportEvents } from './transport.js'

type FrameListener = TransportEvents['frame']
type RangeListener = TransportEvents['frame-range']

/**
 * A transport's `frame` and `frame-range` listeners, called directly. EventEmitter's `emit`
 * gathers its arguments into a fresh array on every call, which a flood of frames paid once per
 * frame; the other, rarer events stay on the emitter. Listeners are kept in arrays replaced on
 * every change, so one added or removed while frames are handed on takes effect from the next
 * frame. Every frame reaches both kinds of listener, whichever way it is emitted: the `frame`
 * listeners first, then the range ones, each in the order they were added.
 */
export interface FrameListeners {
  /** Routes `on`/`off` of `frame` and `frame-range` here and every other event to `events`. */
  on: <E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]) => void
  off: <E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]) => void
  /** Hands one frame to every listener (a range listener gets the whole payload). */
  emit: (host: string, payload: Buffer) => void
  /** Hands the frame `bytes[start, end)` on: to range listeners as it is, to `frame` listeners as one view made for them all (if any listen). */
  emitRange: (host: string, bytes: Uint8Array, start: number, end: number) => void
}

export function createFrameListeners (events: EventEmitter): FrameListeners {
  let listeners: readonly FrameListener[] = []
  let ranges: readonly RangeListener[] = []
  const without = <T>(list: readonly T[], x: T): readonly T[] => {
    const i = list.lastIndexOf(x)
    return i < 0 ? list : [...list.slice(0, i), ...list.slice(i + 1)]
  }
  return {
    on (event, listener) {
      if (event === 'frame') listeners = [...listeners, listener as FrameListener]
      else if (event === 'frame-range') ranges = [...ranges, listener as RangeListener]
      else events.on(event, listener as (...args: unknown[]) => void)
    },
    off (event, listener) {
      if (event === 'frame') listeners = without(listeners, listener as FrameListener)
      else if (event === 'frame-range') ranges = without(ranges, listener as RangeListener)
      else events.off(event, listener as (...args: unknown[]) => void)
    },
    emit (host, payload) {
      const fns = listeners
      for (let i = 0; i < fns.length; i++) (fns[i] as FrameListener)(host, payload)
      const rs = ranges
      for (let i = 0; i < rs.length; i++) (rs[i] as RangeListener)(host, payload, 0, payload.byteLength)
    },
    emitRange (host, bytes, start, end) {
      const fns = listeners
      if (fns.length > 0) {
        const payload = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)
        for (let i = 0; i < fns.length; i++) (fns[i] as FrameListener)(host, payload)
      }
      const rs = ranges
      for (let i = 0; i < rs.length; i++) (rs[i] as RangeListener)(host, bytes, start, end)
    }
  }
}
