import fc from 'fast-check'
import { CONTROL_MAX_FRAME_BYTES } from '../../../src/api/socket-endpoint.js'
import { frameOf, streamBytes, type StreamBytes } from './frames.js'
import { HOSTILE_KEYS, jsonish, pack, type HostileOpts } from './hostile-values.js'

/** One connection's worth of control-socket input. */
export interface ControlCase {
  /** Frames and bytes, in order. */
  chunks: StreamBytes[]
  /** Comlink message ids the agent must answer (a well-formed call to a listed read-only method). */
  answerIds: string[]
  label: string
}

/** The calls the control socket lists that only read: a fuzz case may make them. `shutdown` and `send` are never called. */
const READ_CALLS = ['info', 'members', 'mesh', 'state'] as const
const UNLISTED = [...HOSTILE_KEYS, 'send', 'shutdown', 'bind', 'call', 'apply', 'x', ''] as const

const wire = fc.oneof(
  jsonish().map(value => ({ type: 'RAW', value })),
  fc.constantFrom({ type: 'HANDLER', name: 'proxy', value: 1 }, { type: 'HANDLER', name: 'throw', value: { isError: true, value: {} } }, { type: 'HANDLER', name: 'nope', value: null }, { type: 'RAW' }, null))

/**
 * Comlink messages on the control socket: read calls that must be answered, and GET/SET/APPLY/
 * CONSTRUCT/ENDPOINT/RELEASE on unlisted names and prototype paths (`__proto__`, `constructor`),
 * malformed messages, and the framing cases of any stream (oversized, truncated, unframed).
 * A SET never names a listed call (that would unplug the harness's own measurements).
 */
export function controlCase (opts: HostileOpts = {}): fc.Arbitrary<ControlCase> {
  const id = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(b => Buffer.from(b).toString('hex'))
  const readCall = fc.record({ id, name: fc.constantFrom(...READ_CALLS), table: fc.constantFrom('hosts', 'services', 'nope', 7) })
    .map(r => ({ msg: { id: r.id, type: 'APPLY', path: [r.name], argumentList: r.name === 'state' ? [{ type: 'RAW', value: r.table }] : [] }, answer: r.id }))
  const unlistedPath = fc.array(fc.oneof(fc.constantFrom(...UNLISTED), fc.constantFrom(...READ_CALLS)), { minLength: 0, maxLength: 4 })
    .filter(p => !(p.length === 1 && (p[0] === 'send' || p[0] === 'shutdown')))
  const hostile = fc.record({
    id: fc.oneof(id, fc.constantFrom(7, null, '')),
    type: fc.constantFrom('GET', 'SET', 'APPLY', 'CONSTRUCT', 'ENDPOINT', 'RELEASE', 'NOPE', 0),
    path: fc.oneof({ arbitrary: unlistedPath, weight: 6 }, { arbitrary: fc.constantFrom('info', null, [7]), weight: 1 }),
    value: wire,
    argumentList: fc.oneof(fc.array(wire, { maxLength: 3 }), fc.constant('x'))
  }).filter(m => !(m.type === 'SET' && Array.isArray(m.path) && m.path.length === 1 && (READ_CALLS as readonly unknown[]).includes(m.path[0])))
    .filter(m => !(m.type === 'APPLY' && Array.isArray(m.path) && m.path.length === 1 && (m.path[0] === 'send' || m.path[0] === 'shutdown')))
    .map(msg => ({ msg, answer: undefined as string | undefined }))
  const message = fc.oneof({ arbitrary: readCall, weight: 2 }, { arbitrary: hostile, weight: 5 }, { arbitrary: jsonish().map(msg => ({ msg, answer: undefined })), weight: 1 })
  const messages = fc.array(message, { minLength: 1, maxLength: 4 }).map((ms): ControlCase => ({
    chunks: ms.map(m => ({ bytes: frameOf(pack(m.msg)), aligned: true, kind: 'frame' })),
    answerIds: ms.every(m => m.answer !== undefined) ? ms.map(m => m.answer as string) : [],
    label: 'comlink'
  }))
  const framing = streamBytes(CONTROL_MAX_FRAME_BYTES, { ...opts, allowUnaligned: true }).map((c): ControlCase => ({ chunks: [c], answerIds: [], label: c.kind }))
  return fc.oneof({ arbitrary: messages, weight: 4 }, { arbitrary: framing, weight: 1 })
}
