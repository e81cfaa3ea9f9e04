import test from 'ava'
import { Registry } from 'prom-client'
import { MAX_MESSAGE_TYPES, registerMessageMetrics } from '../../src/metrics/message-metrics.js'
import { parsePromText, sumOf } from '../helpers/prom-text.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

test('messages are counted by peer and type, errors also by reason', async t => {
  const registry = new Registry()
  const m = registerMessageMetrics(registry)
  m.sent(A, 'gossip.ping', 40)
  m.sent(A, 'gossip.ping', 42)
  m.received(B, 'gossip.ack', 30)
  m.failed(B, 'machines.create', 'rejected')
  m.failed(A, 'frame', 'malformed')
  const s = parsePromText(await registry.metrics())
  t.is(sumOf(s, 'roost_messages_sent_total', { peer: 'aaaaaaaaaaaa', type: 'gossip.ping' }), 2)
  t.is(sumOf(s, 'roost_messages_received_total', { peer: 'bbbbbbbbbbbb', type: 'gossip.ack' }), 1)
  t.is(sumOf(s, 'roost_message_bytes_total', { peer: 'aaaaaaaaaaaa', type: 'gossip.ping', direction: 'out' }), 82)
  t.is(sumOf(s, 'roost_message_bytes_total', { direction: 'in' }), 30)
  t.is(sumOf(s, 'roost_message_errors_total', { peer: 'bbbbbbbbbbbb', type: 'machines.create', reason: 'rejected' }), 1)
  t.is(sumOf(s, 'roost_message_errors_total', { reason: 'malformed' }), 1)
  t.false(s.some(x => x.name === 'roost_messages_received_total' && x.labels.peer === 'aaaaaaaaaaaa'), 'series at zero are left out')
})

test('types past the cap are counted as other, so made-up types cannot grow the series', async t => {
  const registry = new Registry()
  const m = registerMessageMetrics(registry)
  for (let i = 0; i < MAX_MESSAGE_TYPES + 50; i++) m.received(A, `made-up.${i}`, 1)
  m.received(A, 'made-up.0', 1)
  const s = parsePromText(await registry.metrics()).filter(x => x.name === 'roost_messages_received_total')
  t.is(s.length, MAX_MESSAGE_TYPES + 1)
  t.is(sumOf(s, 'roost_messages_received_total', { type: 'other' }), 50)
  t.is(sumOf(s, 'roost_messages_received_total', { type: 'made-up.0' }), 2)
  t.is(sumOf(s, 'roost_messages_received_total'), MAX_MESSAGE_TYPES + 51)
})
