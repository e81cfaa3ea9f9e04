import test from 'ava'
import { HostUnreachableError, UnknownHostError } from '../../src/errors/errors.js'
import { createMemoryNetwork } from '../../src/transport/memory-transport.js'
import { randomHostId } from '../helpers/fixtures.js'
import { retry } from '../helpers/retry.js'
import { collectFrames, sendFailure, transportComplianceSuite } from './transport-suite.js'

transportComplianceSuite('memory', async () => {
  const net = createMemoryNetwork()
  return { create: () => net.transport({ hostId: randomHostId() }) }
})

test('memory: an unknown host id fails with UnknownHostError, a stopped one with HostUnreachableError', async t => {
  const net = createMemoryNetwork()
  const a = net.transport({ hostId: randomHostId() })
  const b = net.transport({ hostId: randomHostId() })
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  t.true(await sendFailure(a, randomHostId(), Buffer.from('x')) instanceof UnknownHostError)
  await b.stop()
  t.true(await sendFailure(a, b.hostId, Buffer.from('x')) instanceof HostUnreachableError)
  const peer = a.peers().find(p => p.hostId === b.hostId)
  t.like(peer, { connected: false, unreachable: true })
})

test('memory: the network filter drops frames between two hosts only', async t => {
  const net = createMemoryNetwork()
  const [a, b, c] = [0, 1, 2].map(i => net.transport({ hostId: randomHostId(), name: `n${i}` }))
  if (a === undefined || b === undefined || c === undefined) return t.fail()
  t.teardown(async () => { await a.stop(); await b.stop(); await c.stop() })
  for (const tr of [a, b, c]) await tr.start()
  t.deepEqual(net.hosts().sort(), [a.hostId, b.hostId, c.hostId].sort())
  const atB = collectFrames(b)
  const atC = collectFrames(c)
  net.setFilter((from, to) => !(from === a.hostId && to === b.hostId))
  a.send(b.hostId, Buffer.from('dropped'), () => { t.fail('a filtered frame is not a send failure') })
  a.send(c.hostId, Buffer.from('kept'))
  await retry(() => atC.length === 1, { what: 'frame to c' })
  net.setFilter(undefined)
  a.send(b.hostId, Buffer.from('after'))
  await retry(() => atB.length === 1, { what: 'frame to b' })
  t.is(atB[0]?.payload.toString(), 'after')
  t.is(atC[0]?.payload.toString(), 'kept')
})

test('memory: peers carry the name and version given', async t => {
  const net = createMemoryNetwork()
  const a = net.transport({ hostId: randomHostId(), name: 'alpha', version: '1.2.3' })
  const b = net.transport({ hostId: randomHostId() })
  t.teardown(async () => { await a.stop(); await b.stop() })
  await a.start()
  await b.start()
  t.like(b.peers().find(p => p.hostId === a.hostId), { name: 'alpha', version: '1.2.3', connected: true, admitted: true })
  t.is(b.kind, 'memory')
  t.deepEqual(b.addresses(), [])
})
