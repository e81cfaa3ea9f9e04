import test from 'ava'
import {
  bucketOf, compareVersions, createDigest, diffEntries, differingBuckets, parseDigestEntries, parseRowKeys, rowHash,
  type DigestEntry, type DigestedRow
} from '../../src/gossip/digest.js'
import { InvalidArgumentError, InvalidMessageError } from '../../src/errors/errors.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

const r = (key: string, version: number, owner = A, deleted = false): DigestedRow => ({ table: 'machines', key, owner, version, deleted })

test('bucketOf is stable across versions of roost (pinned values) and within range', t => {
  // Hosts of different versions compare digests: changing the hash is a wire change.
  t.is(bucketOf('machines', 'm1', 64), 55)
  t.is(bucketOf('hosts', A, 64), 33)
  t.is(rowHash(r('m1', 1)), 769406327)
  for (let i = 0; i < 500; i++) {
    const b = bucketOf('services', `app-${i}`, 7)
    t.true(Number.isInteger(b) && b >= 0 && b < 7)
  }
})

test('bucketOf spreads keys over the buckets', t => {
  const used = new Set<number>()
  for (let i = 0; i < 1000; i++) used.add(bucketOf('machines', `m${i}`, 64))
  t.true(used.size >= 60, `${used.size} buckets used`)
})

test('rowHash covers table, key, owner, version and the deleted flag', t => {
  const base = r('m1', 5)
  const variants: DigestedRow[] = [
    { ...base, table: 'services' }, { ...base, key: 'm2' }, { ...base, owner: B }, { ...base, version: 6 }, { ...base, deleted: true }
  ]
  for (const v of variants) t.not(rowHash(v), rowHash(base), JSON.stringify(v))
})

test('digest: independent of the order rows arrive in; removing every row gives zeros', t => {
  const rows = Array.from({ length: 50 }, (_, i) => r(`k${i}`, i + 1))
  const a = createDigest(16)
  const b = createDigest(16)
  for (const row of rows) a.update(undefined, row)
  for (const row of [...rows].reverse()) b.update(undefined, row)
  t.deepEqual(a.values(), b.values())
  t.true(a.values().some(h => h !== 0))
  for (const row of rows) a.update(row, undefined)
  t.deepEqual(a.values(), new Array(16).fill(0))
  t.deepEqual(a.entries([...Array(16).keys()]), [])
})

test('digest: replacing a row changes its bucket only, and back again restores it', t => {
  const d = createDigest(8)
  for (let i = 0; i < 20; i++) d.update(undefined, r(`k${i}`, 1))
  const before = d.values()
  const old = r('k3', 1)
  const next = r('k3', 2)
  d.update(old, next)
  t.deepEqual(differingBuckets(before, d.values()), [bucketOf('machines', 'k3', 8)])
  d.update(next, old)
  t.deepEqual(d.values(), before)
})

test('digest: entries lists what each bucket holds', t => {
  const d = createDigest(4)
  d.update(undefined, r('x', 3, B))
  d.update(r('x', 3, B), r('x', 4, A))
  const bucket = bucketOf('machines', 'x', 4)
  t.deepEqual(d.entries([bucket, bucket, 99, -1]), [['machines', 'x', 4, A]])
  t.deepEqual(d.entries([(bucket + 1) % 4]), [])
})

test('createDigest refuses a bad bucket count', t => {
  t.throws(() => createDigest(0), { instanceOf: InvalidArgumentError })
  t.throws(() => createDigest(1.5), { instanceOf: InvalidArgumentError })
})

test('differingBuckets: indexes that differ; digests of other sizes are refused', t => {
  t.deepEqual(differingBuckets([1, 2, 3, 4], [1, 0, 3, 5]), [1, 3])
  t.deepEqual(differingBuckets([1, 2], [1, 2]), [])
  t.throws(() => differingBuckets([1], [1, 2]), { instanceOf: InvalidArgumentError })
})

test('compareVersions orders by version, then owner', t => {
  t.true(compareVersions({ version: 2, owner: A }, { version: 1, owner: B }) > 0)
  t.true(compareVersions({ version: 1, owner: B }, { version: 1, owner: A }) > 0)
  t.true(compareVersions({ version: 1, owner: A }, { version: 1, owner: B }) < 0)
  t.is(compareVersions({ version: 1, owner: A }, { version: 1, owner: A }), 0)
})

test('diffEntries: push what the peer lacks or has older, pull what it has newer, nothing for equal', t => {
  const ours: DigestEntry[] = [
    ['machines', 'only-ours', 5, A],
    ['machines', 'ours-newer', 9, A],
    ['machines', 'theirs-newer', 3, A],
    ['machines', 'equal', 4, A],
    ['machines', 'tie-ours-wins', 7, B],
    ['machines', 'tie-theirs-wins', 7, A]
  ]
  const theirs: DigestEntry[] = [
    ['machines', 'only-theirs', 1, B],
    ['machines', 'ours-newer', 8, B],
    ['machines', 'theirs-newer', 4, B],
    ['machines', 'equal', 4, A],
    ['machines', 'tie-ours-wins', 7, A],
    ['machines', 'tie-theirs-wins', 7, B],
    ['hosts', 'equal', 4, A]
  ]
  const { push, pull } = diffEntries(ours, theirs)
  t.deepEqual(push.map(k => k[1]).sort(), ['only-ours', 'ours-newer', 'tie-ours-wins'])
  t.deepEqual(pull.map(k => k.join('/')).sort(), ['hosts/equal', 'machines/only-theirs', 'machines/theirs-newer', 'machines/tie-theirs-wins'])
})

test('parseDigestEntries / parseRowKeys accept well-formed input and refuse the rest', t => {
  const good: unknown = [['machines', 'm1', 12, A]]
  t.deepEqual(parseDigestEntries(good), [['machines', 'm1', 12, A]])
  for (const bad of [
    {}, [['nope', 'm1', 12, A]], [['machines', 'm1', 1.5, A]], [['machines', 'm1', 0, A]],
    [['machines', 'm1', 12, 'xyz']], [['machines', 'x'.repeat(257), 12, A]], [['machines', 'm1', 12]]
  ]) {
    t.throws(() => parseDigestEntries(bad), { instanceOf: InvalidMessageError }, JSON.stringify(bad).slice(0, 60))
  }
  t.deepEqual(parseRowKeys([['hosts', 'h']]), [['hosts', 'h']])
  t.throws(() => parseRowKeys([['hosts']]), { instanceOf: InvalidMessageError })
  t.throws(() => parseRowKeys('hosts'), { instanceOf: InvalidMessageError })
})
