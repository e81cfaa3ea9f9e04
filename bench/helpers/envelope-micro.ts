import { createCodec } from '../../src/codec/codec.js'
import { CompactKind, createCompactEnvelopeCodec, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { decodeEnvelope, encodeEnvelope } from '../../src/codec/envelope.js'
import { PAYLOAD } from './driver-actor.js'

// node --import=tsx bench/helpers/envelope-micro.ts: CPU µs to encode and to decode the messaging
// bench's one-way message in envelope version 1 (a msgpack array, the type split from the body)
// and version 2 (compact header, the message whole), side by side in one process, five rounds.
const codec = createCodec()
const compact = createCompactEnvelopeCodec({ codec })
const N = 500_000
let sink = 0
const out: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null }
const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system }
const run = (name: string, fn: (i: number) => number): string => {
  const t0 = cpuUs()
  for (let i = 0; i < N; i++) sink += fn(i)
  return `${name} ${((cpuUs() - t0) / N).toFixed(3)}`
}
const withoutType = (msg: { type: string }): Record<string, unknown> => { const { type: _t, ...body } = msg as { type: string } & Record<string, unknown>; return body }
const v1 = Buffer.from(encodeEnvelope(codec, { v: 1, type: 'bench.hit', id: 12345, from: '/bench', to: '/bench-sink', body: { seq: 5, payload: PAYLOAD } }))
const v2 = Buffer.from(compact.encode(CompactKind.dispatch, 12345, -1, '/bench-sink', '/bench', '', { type: 'bench.hit', seq: 5, payload: PAYLOAD }))
for (let r = 0; r < 5; r++) {
  process.stdout.write([
    run('v1 encode', i => { const m = { type: 'bench.hit', seq: i, payload: PAYLOAD }; return codec.encode([1, m.type, i, '/bench', '/bench-sink', null, null, withoutType(m)]).byteLength }),
    run('v2 encode', i => compact.encode(CompactKind.dispatch, i, -1, '/bench-sink', '/bench', '', { type: 'bench.hit', seq: i, payload: PAYLOAD }).byteLength),
    run('v1 decode', () => { const e = decodeEnvelope(codec, v1); (e.body as { type: string }).type = e.type; return e.id }),
    run('v2 decode', () => { compact.decode(v2, out); return out.id })
  ].join('  ') + ' µs\n')
}
process.stdout.write(`frame bytes: v1 ${v1.byteLength}, v2 ${v2.byteLength}${sink > 0 ? '' : ' '}\n`)
