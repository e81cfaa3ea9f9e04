import test from 'ava'
import { createMilestones, distinctCounter, MAX_COUNTS_PER_EVENT, MAX_EVENTS } from '../../src/log/milestones.js'

const clockAt = (start: number): { now: () => number, advance: (ms: number) => void } => {
  let now = start
  return { now: () => now, advance: (ms) => { now += ms } }
}

test('a milestone keeps the first time each count was reached, in time order, with the process origin', t => {
  const clock = clockAt(1_000)
  const m = createMilestones({ origin: 400 }, { clock })
  m.reach('dht.announced')
  clock.advance(10)
  m.reach('wireguard.peers', 2)
  clock.advance(10)
  m.reach('wireguard.peers', 1)
  m.reach('wireguard.peers', 2)
  clock.advance(10)
  m.reach('dht.announced')
  m.reach('transport.started', 1, 990)
  t.deepEqual(m.list(), [
    { event: 'process', n: 1, at: 400 },
    { event: 'transport.started', n: 1, at: 990 },
    { event: 'dht.announced', n: 1, at: 1_000 },
    { event: 'wireguard.peers', n: 2, at: 1_010 },
    { event: 'wireguard.peers', n: 1, at: 1_020 }
  ])
})

test('distinct keys count up once each; events and counts are bounded', t => {
  const clock = clockAt(0)
  const m = createMilestones({}, { clock })
  const peer = distinctCounter(m, 'mesh.peers')
  for (const host of ['a', 'b', 'a', 'c', 'b']) { peer(host); clock.advance(1) }
  t.deepEqual(m.list().map(x => [x.n, x.at]), [[1, 0], [2, 1], [3, 3]])
  for (let i = 0; i < MAX_COUNTS_PER_EVENT * 2; i++) m.reach('many', i)
  for (let i = 0; i < MAX_EVENTS * 2; i++) m.reach(`event-${i}`)
  const list = m.list()
  t.is(list.filter(x => x.event === 'many').length, MAX_COUNTS_PER_EVENT)
  t.is(new Set(list.map(x => x.event)).size, MAX_EVENTS)
})
