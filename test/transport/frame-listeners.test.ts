import test from 'ava'
import { EventEmitter } from 'node:events'
import { createFrameListeners } from '../../src/transport/frame-listeners.js'

test('every frame reaches frame and range listeners alike, whichever way it is emitted; a range listener gets no view made for it', t => {
  const events = new EventEmitter()
  const frames = createFrameListeners(events)
  const seen: string[] = []
  const views: Buffer[] = []
  const onFrame = (host: string, payload: Buffer): void => { seen.push(`frame ${host} ${payload.toString()}`); views.push(payload) }
  const onRange = (host: string, bytes: Uint8Array, start: number, end: number): void => { seen.push(`range ${host} ${Buffer.from(bytes.subarray(start, end)).toString()} ${start}`) }
  frames.on('frame-range', onRange)
  const chunk = Buffer.from('..hello..world')
  frames.emitRange('a', chunk, 2, 7)
  t.deepEqual(seen, ['range a hello 2'], 'only the range listener: no view')
  frames.on('frame', onFrame)
  frames.emitRange('b', chunk, 9, 14)
  frames.emit('c', Buffer.from('whole'))
  t.deepEqual(seen.slice(1), ['frame b world', 'range b world 9', 'frame c whole', 'range c whole 0'])
  t.is(views[0]?.buffer, chunk.buffer, 'the frame listener\'s view is of the bytes given')
  frames.off('frame-range', onRange)
  frames.off('frame', onFrame)
  frames.emitRange('d', chunk, 2, 7)
  frames.emit('d', Buffer.from('x'))
  t.is(seen.length, 5, 'none after off')
  let other = 0
  frames.on('connect', () => { other++ })
  events.emit('connect')
  t.is(other, 1, 'other events stay on the emitter')
})
