import test from 'ava'
import { EventEmitter } from 'node:events'
import { Type } from '@sinclair/typebox'
import { createCodec } from '../../src/codec/codec.js'
import { CompactKind, createCompactEnvelopeCodec, type CompactEnvelope } from '../../src/codec/compact-envelope.js'
import { encodeEnvelope, PROTOCOL_VERSION } from '../../src/codec/envelope.js'
import { silentLogger } from '../../src/log/logger.js'
import { defineActor } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'
import { createActorSystem } from '../../src/runtime/system.js'
import { createFrameListeners } from '../../src/transport/frame-listeners.js'
import type { PeerInfo, Transport } from '../../src/transport/transport.js'
import { randomHostId } from '../helpers/fixtures.js'

const tallyProtocol = defineActorProtocol('tally', {
  'tally.add': { body: Type.Object({ n: Type.Integer(), note: Type.String() }), reply: Type.Void(), from: 'member' },
  'tally.nested': { body: Type.Object({ list: Type.Array(Type.Integer()) }), reply: Type.Void(), from: 'member' }
})

/** A transport whose frames arrive as ranges of a larger buffer (as the transport thread's batches do); what is sent is kept. */
function rangeTransport (hostId: string): { transport: Transport, emitRange: (host: string, bytes: Uint8Array, start: number, end: number) => void, sent: Buffer[], connect: (peer: PeerInfo) => void } {
  const events = new EventEmitter()
  const frames = createFrameListeners(events)
  const sent: Buffer[] = []
  const transport: Transport = {
    hostId,
    kind: 'test',
    framesAsRanges: true,
    start: async () => {},
    stop: async () => {},
    send: (_host, payload) => { sent.push(Buffer.from(payload)) },
    peers: () => [],
    addresses: () => [],
    on: frames.on,
    off: frames.off
  }
  return { transport, emitRange: frames.emitRange, sent, connect: (peer) => { events.emit('connect', peer) } }
}

test('frames handed over as ranges of a shared buffer are read within their bounds: compact and version-1 envelopes, flat and nested bodies; a bad one is answered', async t => {
  const codec = createCodec()
  const self = randomHostId()
  const peer = randomHostId()
  const { transport, emitRange, sent, connect } = rangeTransport(self)
  const system = createActorSystem({ hostId: self }, { logger: silentLogger(), codec, transport })
  await system.start()
  t.teardown(async () => { await system.stop() })
  const got: string[] = []
  system.spawn(null, 'tally', defineActor({
    protocol: tallyProtocol,
    policy: policies.resume(),
    create: () => ({ handlers: { 'tally.add': (m) => { got.push(`${m.n}:${m.note}`) }, 'tally.nested': (m) => { got.push(m.list.join(',')) } } })
  }))
  connect({ hostId: peer, name: 'peer', version: '0', addresses: [], connected: true, lastSeen: Date.now(), admitted: true, unreachable: false, envelopes: [1, 2] })
  const compact = createCompactEnvelopeCodec({ codec })
  const frames = [
    compact.encode(CompactKind.dispatch, 1, -1, '/tally', '/x', '', { type: 'tally.add', n: 1, note: 'a' }),
    compact.encode(CompactKind.dispatch, 2, -1, '/tally', '/x', '', { type: 'tally.nested', list: [4, 5] }),
    encodeEnvelope(codec, { v: PROTOCOL_VERSION, type: 'tally.add', id: 3, from: '/x', to: '/tally', body: { n: 3, note: 'v1' } }),
    compact.encode(CompactKind.dispatch, 4, -1, '/tally', '/x', '', { type: 'tally.add', n: 4, note: 'd' })
  ]
  // Laid end to end with bytes around each that would break a reader running past its bounds.
  const junk = Buffer.from([0xc1, 0x00, 0xff, 0x93])
  const shared = Buffer.concat(frames.flatMap(f => [junk, f]).concat(junk))
  let at = 0
  for (const f of frames) {
    at += junk.byteLength
    emitRange(peer, shared, at, at + f.byteLength)
    at += f.byteLength
  }
  t.deepEqual(got, ['1:a', '4,5', '3:v1', '4:d'])
  const truncated = frames[0] as Buffer
  emitRange(peer, shared, junk.byteLength, junk.byteLength + truncated.byteLength - 2)
  t.is(got.length, 4, 'a frame cut short is not delivered')
  const answer = sent.at(-1)
  if (answer === undefined) { t.fail('no answer to the bad frame'); return }
  const out = {} as CompactEnvelope
  compact.decode(answer, out)
  t.is(out.kind, CompactKind.error)
  t.is(out.re, 1, 'answered with the id it carried')
})
