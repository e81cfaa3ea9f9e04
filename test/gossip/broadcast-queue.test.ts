import test from 'ava'
import { BroadcastQueue } from '../../src/gossip/broadcast-queue.js'

/** Payloads are their own key, so a take reads as the list of keys sent, in order. */
function queueOf (items: Array<[key: string, size: number]>, kind: 'u' | 'x' = 'u'): BroadcastQueue {
  const q = new BroadcastQueue()
  for (const [key, size] of items) q.push(kind, key, key, size)
  return q
}

const keys = (r: { u: unknown[], x: unknown[] }): string[] => [...r.u, ...r.x] as string[]

test('a take never goes over the byte budget', t => {
  const sizes = [100, 250, 40, 400, 90, 300, 10, 75, 350, 120]
  const q = queueOf(sizes.map((s, i): [string, number] => [`k${i}`, s]))
  const sizeOf = new Map(sizes.map((s, i) => [`k${i}`, s]))
  let sent = 0
  for (let round = 0; round < 20; round++) {
    const got = keys(q.take(400, 3))
    const used = got.reduce((n, k) => n + (sizeOf.get(k) ?? Number.NaN), 0)
    t.true(used <= 400, `round ${round} used ${used} bytes of 400: ${got.join(',')}`)
    sent += got.length
  }
  t.is(sent, sizes.length * 3, 'every item is still sent its 3 times')
  t.is(q.length, 0)
})

test('a budget smaller than every item sends nothing and keeps the items', t => {
  const q = queueOf([['a', 100], ['b', 200]])
  t.deepEqual(q.take(50, 5), { u: [], x: [] })
  t.is(q.length, 2)
  t.deepEqual(keys(q.take(1000, 5)), ['b', 'a'])
})

test('never-sent items go newest first', t => {
  const q = queueOf([['a', 10], ['b', 10], ['c', 10], ['d', 10]])
  t.deepEqual(keys(q.take(20, 10)), ['d', 'c'])
  t.deepEqual(keys(q.take(20, 10)), ['b', 'a'])
  q.push('u', 'e', 'e', 10)
  q.push('u', 'f', 'f', 10)
  const got = keys(q.take(30, 10))
  t.deepEqual(got.slice(0, 2), ['f', 'e'], 'the new ones ahead of all that were sent before')
  t.true(['a', 'b', 'c', 'd'].includes(got[2] as string))
})

test('the least transmitted go first', t => {
  const q = queueOf([['a', 10], ['b', 10]])
  t.deepEqual(keys(q.take(1000, 10)), ['b', 'a'])
  t.deepEqual(new Set(keys(q.take(1000, 10))), new Set(['a', 'b']))
  q.push('u', 'c', 'c', 10)
  // c was never sent; a and b twice each.
  t.deepEqual(keys(q.take(10, 10)), ['c'])
  const second = keys(q.take(20, 10))
  t.is(second[0], 'c', 'c (sent once) before a and b (twice)')
  t.true(['a', 'b'].includes(second[1] as string))
  const rest = ['a', 'b'].find(k => k !== second[1]) as string
  // c and `rest` have now been sent twice, the other three times.
  t.deepEqual(new Set(keys(q.take(20, 10))), new Set(['c', rest]))
})

test('over many takes, no item is sent a second time more than once ahead of another', t => {
  // With equal sizes and a budget for k items, the counts never drift more than one apart.
  const q = new BroadcastQueue()
  for (let i = 0; i < 12; i++) q.push('u', `k${i}`, `k${i}`, 10)
  const counts = new Map<string, number>()
  for (let round = 0; round < 20; round++) {
    for (const k of keys(q.take(50, 100))) counts.set(k, (counts.get(k) ?? 0) + 1)
    const values = [...Array(12).keys()].map(i => counts.get(`k${i}`) ?? 0)
    t.true(Math.max(...values) - Math.min(...values) <= 1, `round ${round}: ${values.join(',')}`)
  }
})

test('an item is dropped after `limit` transmissions', t => {
  const q = queueOf([['a', 10], ['b', 10]])
  const counts = new Map<string, number>()
  for (let i = 0; i < 10; i++) for (const k of keys(q.take(1000, 4))) counts.set(k, (counts.get(k) ?? 0) + 1)
  t.deepEqual(Object.fromEntries(counts), { a: 4, b: 4 })
  t.is(q.length, 0)
  t.false(q.has('a'))
  t.false(q.has('b'))
  t.deepEqual(q.take(1000, 4), { u: [], x: [] })
})

test('length and has follow pushes, replacements and drops', t => {
  const q = new BroadcastQueue()
  t.is(q.length, 0)
  q.push('u', 'a', 1, 10)
  q.push('x', 'b', 2, 10)
  t.is(q.length, 2)
  t.true(q.has('a'))
  q.push('u', 'a', 3, 10)
  t.is(q.length, 2, 'a replacement does not add')
  q.take(1000, 1)
  t.is(q.length, 0)
  q.push('u', 'c', 4, 10)
  q.clear()
  t.is(q.length, 0)
  t.false(q.has('c'))
})

test('pushing the same key replaces the older item, which is never sent again', t => {
  const q = new BroadcastQueue()
  q.push('u', 'm:a', { v: 1 }, 10)
  q.push('u', 'm:b', { v: 'b' }, 10)
  t.deepEqual(q.take(1000, 5).u, [{ v: 'b' }, { v: 1 }])
  q.push('u', 'm:a', { v: 2 }, 10)
  t.is(q.length, 2)
  const seen: unknown[] = []
  for (let i = 0; i < 10; i++) seen.push(...q.take(1000, 5).u)
  t.false(seen.some(p => (p as { v: unknown }).v === 1), 'the replaced payload is gone')
  t.is(seen.filter(p => (p as { v: unknown }).v === 2).length, 5, 'the replacement gets a full set of transmissions')
  t.is(seen.filter(p => (p as { v: unknown }).v === 'b').length, 4)
})

test('a replacement can change kind', t => {
  const q = new BroadcastQueue()
  q.push('u', 'k', 'as-u', 10)
  q.push('x', 'k', 'as-x', 10)
  t.deepEqual(q.take(1000, 5), { u: [], x: ['as-x'] })
})

test('updates and user items come back separated by kind', t => {
  const q = new BroadcastQueue()
  q.push('u', 'm:1', 'u1', 10)
  q.push('x', 'r:1', 'x1', 10)
  q.push('u', 'm:2', 'u2', 10)
  t.deepEqual(q.take(1000, 5), { u: ['u2', 'u1'], x: ['x1'] })
})

test('the `first` key goes ahead of everything else', t => {
  const q = queueOf([['a', 10], ['b', 10], ['c', 10], ['d', 10]])
  q.take(10, 5) // d sent once
  // a has never been sent and is the oldest: without `first` it would come after c and b.
  t.deepEqual(keys(q.take(10, 5, 'a')), ['a'])
  t.deepEqual(keys(q.take(100, 5, 'd')), ['d', 'c', 'b', 'a'], 'the most sent goes first when named')
})

test('`first` counts against the budget, and is skipped when missing or too large', t => {
  const q = queueOf([['big', 300], ['s1', 50], ['s2', 50]])
  t.deepEqual(keys(q.take(100, 5, 'big')), ['s2', 's1'], 'too large for the budget: the rest goes')
  t.deepEqual(new Set(keys(q.take(100, 5, 'nope'))), new Set(['s1', 's2']), 'an unknown `first` changes nothing')
  const got = keys(q.take(350, 5, 'big'))
  t.is(got[0], 'big', 'named and fitting: first')
  t.is(got.length, 2, 'then what still fits')
})

test('an item is never emitted twice in one take', t => {
  const q = new BroadcastQueue()
  for (let i = 0; i < 50; i++) q.push(i % 3 === 0 ? 'x' : 'u', `k${i}`, `k${i}`, 5 + (i % 7))
  for (let round = 0; round < 30; round++) {
    const first = round % 4 === 0 ? `k${round}` : undefined
    const got = keys(q.take(100_000, 6, first))
    t.is(new Set(got).size, got.length, `round ${round}: ${got.join(',')}`)
    if (round % 5 === 0) q.push('u', `k${round * 7 % 50}`, `k${round * 7 % 50}`, 9)
  }
})

test('an item bigger than the budget does not hold back the others', t => {
  const q = new BroadcastQueue()
  q.push('u', 'old', 'old', 100)
  q.push('x', 'huge', 'huge', 5000)
  q.push('u', 'new', 'new', 100)
  const sent = new Map<string, number>()
  for (let i = 0; i < 10; i++) for (const k of keys(q.take(1000, 3))) sent.set(k, (sent.get(k) ?? 0) + 1)
  t.is(sent.get('new'), 3)
  t.is(sent.get('old'), 3, 'an older item behind the oversized one is still sent')
  t.false(sent.has('huge'))
})
