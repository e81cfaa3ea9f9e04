import test from 'ava'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { childPath, formatRef, isValidName, isValidPath, parseTarget, ref } from '../../src/runtime/ref.js'

const validPaths = [
  '/agent',
  '/a',
  '/agent/machines/vm-1',
  '/A1/b.c/d_e/f:g/h-i',
  '/0',
  '/' + 'x'.repeat(128),
  '/a/' + 'b'.repeat(128)
]

const invalidPaths = [
  '',
  '/',
  'agent',
  'agent/machines',
  '//agent',
  '/agent/',
  '/agent//x',
  '/.hidden',
  '/-dash',
  '/_under',
  '/:colon',
  '/has space',
  '/a/b c',
  '/a/é',
  '/a/b?c',
  '/' + 'x'.repeat(129)
]

for (const p of validPaths) {
  test(`isValidPath accepts ${JSON.stringify(p.length > 40 ? p.slice(0, 20) + '…' : p)}`, t => {
    t.true(isValidPath(p))
  })
}

for (const p of invalidPaths) {
  test(`isValidPath rejects ${JSON.stringify(p.length > 40 ? p.slice(0, 20) + '…' : p)}`, t => {
    t.false(isValidPath(p))
  })
}

test('isValidName accepts segments and rejects slashes and bad first characters', t => {
  for (const n of ['a', 'vm-1', 'a.b', 'x:y', 'A_b', '9']) t.true(isValidName(n), n)
  for (const n of ['', '/a', 'a/b', '.a', '-a', 'a b', 'x'.repeat(129)]) t.false(isValidName(n), n)
})

test('childPath of a root actor', t => {
  t.is(childPath(null, 'agent'), '/agent')
})

test('childPath of a nested actor', t => {
  t.is(childPath('/agent', 'machines'), '/agent/machines')
  t.is(childPath('/agent/machines', 'vm-1'), '/agent/machines/vm-1')
  t.true(isValidPath(childPath('/agent/machines', 'vm-1')))
})

for (const bad of ['', 'a/b', '/a', '.x', 'has space', 'x'.repeat(129)]) {
  test(`childPath rejects the name ${JSON.stringify(bad.slice(0, 20))}`, t => {
    const err = t.throws(() => childPath('/agent', bad), { instanceOf: InvalidArgumentError })
    t.is(err?.code, 'ERR_INVALID_ARGUMENT')
    t.deepEqual(err?.details, { name: bad })
    t.throws(() => childPath(null, bad), { instanceOf: InvalidArgumentError })
  })
}

const validTargets: Array<[string, { host: string, path: string }]> = [
  ['local/agent', { host: 'local', path: '/agent' }],
  ['m1/agent/machines/vm-1', { host: 'm1', path: '/agent/machines/vm-1' }],
  ['ab12cd/echo', { host: 'ab12cd', path: '/echo' }],
  [`${'f'.repeat(64)}/agent`, { host: 'f'.repeat(64), path: '/agent' }]
]

for (const [target, expected] of validTargets) {
  test(`parseTarget ${target.slice(0, 30)}`, t => {
    t.deepEqual(parseTarget(target), expected)
  })
}

const invalidTargets = [
  '',
  'local',
  '/agent',
  'local/',
  'local//agent',
  'local/agent/',
  'local/.agent',
  'local/agent/has space'
]

for (const target of invalidTargets) {
  test(`parseTarget rejects ${JSON.stringify(target)}`, t => {
    const err = t.throws(() => parseTarget(target), { instanceOf: InvalidArgumentError })
    t.is(err?.code, 'ERR_INVALID_ARGUMENT')
    t.deepEqual(err?.details, { target })
  })
}

test('ref is plain, serialisable data and formatRef joins host and path', t => {
  const r = ref('m1', '/agent/x')
  t.deepEqual(JSON.parse(JSON.stringify(r)), { host: 'm1', path: '/agent/x' })
  t.deepEqual(Object.keys(r).sort(), ['host', 'path'])
  t.is(formatRef(r), 'm1/agent/x')
  t.deepEqual(parseTarget(formatRef(r)), { host: 'm1', path: '/agent/x' })
})
