import test from 'ava'
import { dueRenewals, renewAt, renewalCandidates, renewerOf, retryDelay, type RenewalRow } from '../../src/acme/renewal.js'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)
const C = 'c'.repeat(64)
const DAY = 86_400_000

function acmeRow (hostname: string, owner: string, notAfter: number, over: Partial<RenewalRow> = {}, data: Record<string, unknown> = {}): RenewalRow {
  // certPem unreadable on purpose: the decision then assumes a 90-day life ending at notAfter.
  return { key: hostname, owner, ownerDead: false, deleted: false, data: { hostname, app: 'shop', certPem: 'not a pem', keySealed: 'v1.x', notAfter, source: 'acme', updatedAt: 0, ...data }, ...over }
}

test('renewAt: when a third of the lifetime is left', t => {
  t.is(renewAt(0, 90 * DAY), 60 * DAY)
  t.is(renewAt(1_000, 61_000), 41_000)
  t.is(renewAt(5_000, 5_000), 5_000, 'a zero-length life is due at once')
})

test('retryDelay: doubles per failure from the first delay, capped', t => {
  t.deepEqual([1, 2, 3, 4].map(n => retryDelay(n, 1_000, 5_000)), [1_000, 2_000, 4_000, 5_000])
})

test('renewerOf: the issuing host while alive; else the same rendezvous winner whatever the order of the alive list', t => {
  t.is(renewerOf('shop.example.com', A, [A, B, C]), A)
  const winner = renewerOf('shop.example.com', 'd'.repeat(64), [A, B, C])
  t.true(winner !== undefined && [A, B, C].includes(winner))
  t.is(renewerOf('shop.example.com', 'd'.repeat(64), [C, B, A]), winner)
  const others = [A, B, C].filter(h => h !== winner)
  // Removing a host that is not the winner does not move the choice.
  t.is(renewerOf('shop.example.com', 'd'.repeat(64), [winner as string, others[0] as string]), winner)
  t.is(renewerOf('shop.example.com', A, []), undefined)
})

test('dueRenewals: only due ACME rows this host renews, not while backing off', t => {
  const now = 100 * DAY
  const due = now + 20 * DAY // 20 of 90 days left: less than a third
  const fresh = now + 80 * DAY
  const rows: RenewalRow[] = [
    acmeRow('due.example.com', A, due),
    acmeRow('fresh.example.com', A, fresh),
    acmeRow('user.example.com', A, due, {}, { source: 'user' }),
    acmeRow('other-owner.example.com', B, due),
    acmeRow('gone.example.com', A, due, { deleted: true, data: null }),
    acmeRow('backoff.example.com', A, due),
    acmeRow('dir.example.com', A, due, {}, { acmeDirectory: 'https://acme.test/dir', app: null })
  ]
  const got = dueRenewals(rows, { self: A, alive: [A, B], now, retryAt: new Map([['backoff.example.com', now + 1]]) })
  t.deepEqual(got, [
    { hostname: 'due.example.com', app: 'shop', directory: null, notAfter: due },
    { hostname: 'dir.example.com', app: null, directory: 'https://acme.test/dir', notAfter: due }
  ])
  const later = dueRenewals(rows, { self: A, alive: [A, B], now, retryAt: new Map([['backoff.example.com', now]]) })
  t.true(later.some(d => d.hostname === 'backoff.example.com'), 'due again once the backoff passed')
})

test('dueRenewals: a row whose owner is dead (or not alive) goes to the rendezvous winner among the alive hosts', t => {
  const now = 100 * DAY
  const row = acmeRow('orphan.example.com', C, now + DAY, { ownerDead: true })
  const winner = renewerOf('orphan.example.com', '', [A, B])
  const loser = winner === A ? B : A
  t.is(dueRenewals([row], { self: winner as string, alive: [A, B], now, retryAt: new Map() }).length, 1)
  t.is(dueRenewals([row], { self: loser, alive: [A, B], now, retryAt: new Map() }).length, 0)
  const notAlive = acmeRow('orphan.example.com', C, now + DAY)
  t.is(dueRenewals([notAlive], { self: winner as string, alive: [A, B], now, retryAt: new Map() }).length, 1, 'an owner missing from the alive list counts as gone')
})

test('renewalCandidates: a suspect host keeps its role (no second renewal at each passing suspicion); dead and left hosts do not', t => {
  const members = [{ hostId: 'a', state: 'alive' }, { hostId: 'b', state: 'suspect' }, { hostId: 'c', state: 'dead' }, { hostId: 'd', state: 'left' }]
  t.deepEqual(renewalCandidates(members), ['a', 'b'])
  t.is(renewerOf('shop.example', 'b', renewalCandidates(members)), 'b', 'the suspect issuer still renews')
})
