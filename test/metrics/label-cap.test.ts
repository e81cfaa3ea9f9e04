import test from 'ava'
import { actorFamily, createLabelCap, OTHER, peerLabel } from '../../src/metrics/label-cap.js'

test('a label cap passes the first values and every repeat of them; later new values become other', t => {
  const cap = createLabelCap(2)
  t.is(cap('a'), 'a')
  t.is(cap('b'), 'b')
  t.is(cap('c'), OTHER)
  t.is(cap('a'), 'a')
  t.is(cap('d'), OTHER)
})

test('an actor family is the first two segments of its path', t => {
  t.is(actorFamily('/agent'), '/agent')
  t.is(actorFamily('/agent/machines'), '/agent/machines')
  t.is(actorFamily('/agent/machines/m-123'), '/agent/machines')
  t.is(actorFamily('/agent/router/x/y'), '/agent/router')
})

test('a peer is labelled by the first 12 hex digits of its host id', t => {
  t.is(peerLabel('0123456789abcdef'.repeat(4)), '0123456789ab')
})
