import test from 'ava'
import { createPendingSends } from '../../src/transport/pending-sends.js'

test('ids start at 1 and follow each other; a settled send is never told anything, a failed one once, with its token', t => {
  const p = createPendingSends()
  const heard: Array<[string, number]> = []
  const fn = (err: Error, token: number): void => { heard.push([err.message, token]) }
  const ids = [p.add(fn, 10), p.add(fn, 11), p.add(fn, 12)]
  t.deepEqual(ids, [1, 2, 3])
  p.settle(2)
  p.fail(3, new Error('x'))
  p.fail(3, new Error('again'))
  p.settle(3)
  p.fail(2, new Error('settled'))
  p.fail(99, new Error('unknown'))
  t.deepEqual(heard, [['x', 12]])
  t.is(p.size, 1)
  p.failAll(new Error('all'))
  t.deepEqual(heard, [['x', 12], ['all', 10]])
  t.is(p.size, 0)
  t.is(p.add(fn, 13), 4, 'ids are never reused')
})

test('out-of-order settling over many sends keeps every id to its own function and token, across compactions', t => {
  const p = createPendingSends()
  const heard: number[] = []
  const fn = (_err: Error, token: number): void => { heard.push(token) }
  const ids: number[] = []
  for (let i = 0; i < 10_000; i++) ids.push(p.add(fn, i * 2))
  // Settle all but every 1,000th (those wait, like sends queued while their host is dialled).
  for (let i = 0; i < ids.length; i++) if (i % 1000 !== 0) p.settle(ids[i] as number)
  t.is(p.size, 10)
  for (let i = 0; i < 5_000; i++) p.settle(p.add(fn, -1))
  p.fail(ids[3000] as number, new Error('dial failed'))
  p.fail(ids[0] as number, new Error('dial failed'))
  t.deepEqual(heard, [6000, 0])
  p.failAll(new Error('stopped'))
  t.deepEqual(heard, [6000, 0, 2000, 4000, 8000, 10000, 12000, 14000, 16000, 18000])
})
