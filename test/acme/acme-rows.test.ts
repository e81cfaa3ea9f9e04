import test from 'ava'
import { accountKey, challengeAnswer, challengeKey, pendingChallenges } from '../../src/acme/acme-rows.js'
import { dataError } from '../../src/gossip/row-check.js'

const TOKEN = 'tok_abcdefghijklmnop-123'
const challenge = (token: string, expiresAt: number): Record<string, unknown> => ({ kind: 'challenge', token, keyAuthorization: `${token}.thumbprint_x-1`, hostname: 'shop.example.com', expiresAt })

test('acme rows: challenges and accounts fit the closed schema; extra fields, bad tokens and unknown kinds do not', t => {
  t.is(dataError('acme', challenge(TOKEN, 1)), undefined)
  t.is(dataError('acme', { kind: 'account', directory: 'https://acme.test/dir', keySealed: 'v1.abc', email: null, updatedAt: 1 }), undefined)
  t.regex(dataError('acme', { ...challenge(TOKEN, 1), extra: 1 }) ?? '', /acme schema/)
  t.regex(dataError('acme', challenge('short', 1)) ?? '', /acme schema/)
  t.regex(dataError('acme', challenge('a/../b-cdefghijklmnop', 1)) ?? '', /acme schema/)
  t.regex(dataError('acme', { ...challenge(TOKEN, 1), keyAuthorization: 'x\r\nset-cookie: a' }) ?? '', /acme schema/)
  t.regex(dataError('acme', { kind: 'other', token: TOKEN }) ?? '', /acme schema/)
  t.regex(dataError('certs', { hostname: 'a.example.com', app: null, certPem: 'x', keySealed: 'v1.x', notAfter: 1, source: 'letsencrypt', updatedAt: 1 }) ?? '', /certs schema/)
  t.is(dataError('certs', { hostname: 'a.example.com', app: null, certPem: 'x', keySealed: 'v1.x', notAfter: 1, source: 'acme', updatedAt: 1, acmeDirectory: 'https://acme.test/dir' }), undefined)
})

test('pendingChallenges: unexpired challenge rows under their own key; accounts, tombstones and expired rows are left out', t => {
  const rows = [
    { key: challengeKey(TOKEN), deleted: false, data: challenge(TOKEN, 2_000) },
    { key: challengeKey('expired_abcdefghijkl'), deleted: false, data: challenge('expired_abcdefghijkl', 1_000) },
    { key: challengeKey('other_abcdefghijklmn'), deleted: false, data: challenge('mismatch_abcdefghijk', 2_000) },
    { key: challengeKey('gone_abcdefghijklmnop'), deleted: true, data: null },
    { key: accountKey('https://acme.test/dir'), deleted: false, data: { kind: 'account', directory: 'https://acme.test/dir', keySealed: 'v1.x', email: null, updatedAt: 1 } }
  ]
  t.deepEqual(pendingChallenges(rows, 1_000), { [TOKEN]: `${TOKEN}.thumbprint_x-1` })
})

test('challengeAnswer: only the exact challenge path of a pending token', t => {
  const pending = { [TOKEN]: 'answer' }
  t.is(challengeAnswer(`/.well-known/acme-challenge/${TOKEN}`, pending), 'answer')
  t.is(challengeAnswer('/.well-known/acme-challenge/unknown', pending), undefined)
  t.is(challengeAnswer(`/.well-known/acme-challenge/${TOKEN}?x=1`, pending), undefined)
  t.is(challengeAnswer('/.well-known/acme-challenge/__proto__', pending), undefined)
  t.is(challengeAnswer(`/${TOKEN}`, pending), undefined)
})

test('accountKey: one row per directory, stable', t => {
  t.is(accountKey('https://a.test/dir'), accountKey('https://a.test/dir'))
  t.not(accountKey('https://a.test/dir'), accountKey('https://b.test/dir'))
  t.regex(accountKey('https://a.test/dir'), /^account\/[0-9a-f]{32}$/)
})
