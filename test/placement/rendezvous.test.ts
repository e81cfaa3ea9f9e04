import test from 'ava'
import { rendezvousPick, rendezvousRank } from '../../src/placement/rendezvous.js'

const hosts = ['a1', 'b2', 'c3', 'd4', 'e5']

test('every caller ranks the same candidates the same, whatever their order', t => {
  const one = rendezvousRank('m-1', hosts)
  const two = rendezvousRank('m-1', [...hosts].reverse())
  t.deepEqual(one, two)
  t.is(one.length, hosts.length)
  t.deepEqual([...one].sort(), [...hosts].sort())
})

test('removing a candidate moves only the keys it owned', t => {
  const keys = Array.from({ length: 500 }, (_, i) => `machine-${i}`)
  const before = new Map(keys.map((k) => [k, rendezvousPick(k, hosts)]))
  const survivors = hosts.filter((h) => h !== 'c3')
  let moved = 0
  for (const k of keys) {
    const after = rendezvousPick(k, survivors)
    if (before.get(k) === 'c3') {
      moved++
      t.not(after, 'c3')
      t.is(after, rendezvousRank(k, hosts)[1], 'the next in the full ranking takes over')
    } else {
      t.is(after, before.get(k))
    }
  }
  t.true(moved > 50 && moved < 150, `about a fifth of the keys were on c3 (${moved})`)
})

test('keys spread over the candidates', t => {
  const counts = new Map<string, number>()
  for (let i = 0; i < 1000; i++) {
    const h = rendezvousPick(`k${i}`, hosts) as string
    counts.set(h, (counts.get(h) ?? 0) + 1)
  }
  for (const h of hosts) t.true((counts.get(h) ?? 0) > 120, `${h} got ${counts.get(h)}`)
})

test('no candidates, no pick; duplicates count once', t => {
  t.is(rendezvousPick('k', []), undefined)
  t.deepEqual(rendezvousRank('k', ['x', 'x', 'y']).sort(), ['x', 'y'])
})
