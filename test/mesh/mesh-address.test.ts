import { isIPv6 } from 'node:net'
import test from 'ava'
import { collidingHosts, formatIpv6, isMeshAddress, MESH_PREFIX_LENGTH, meshAddress, meshPrefix, parseIpv6 } from '../../src/mesh/mesh-address.js'
import { generateWgKeyPair } from '../../src/mesh/wg-keys.js'

test('meshPrefix is an fd00::/8 /48, distinct per cluster and stable', t => {
  const a = meshPrefix('alpha')
  const b = meshPrefix('beta')
  t.regex(a, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$/)
  t.not(a, b)
  t.is(meshPrefix('alpha'), a)
  t.is(MESH_PREFIX_LENGTH, 48)
  const seen = new Set<string>()
  for (let i = 0; i < 200; i++) seen.add(meshPrefix(`cluster-${i}`))
  t.is(seen.size, 200)
})

test('meshAddress is deterministic, inside the prefix, and moved by the salt', t => {
  const { publicKey } = generateWgKeyPair()
  const addr = meshAddress('alpha', publicKey)
  t.true(isIPv6(addr))
  t.is(meshAddress('alpha', publicKey), addr)
  t.is(meshAddress('alpha', publicKey, 0), addr)
  t.true(isMeshAddress('alpha', addr))
  t.false(isMeshAddress('beta', addr))
  const prefixBytes = parseIpv6(meshPrefix('alpha').split('/')[0]!)!.subarray(0, 6)
  t.deepEqual(parseIpv6(addr)!.subarray(0, 6), prefixBytes)
  const salted = meshAddress('alpha', publicKey, 1)
  t.not(salted, addr)
  t.true(isMeshAddress('alpha', salted))
  t.not(meshAddress('alpha', generateWgKeyPair().publicKey), addr)
  t.not(meshAddress('beta', publicKey), addr)
  t.is(formatIpv6(parseIpv6(addr)!), addr, 'canonical text form')
  t.throws(() => meshAddress('alpha', publicKey, -1))
})

test('isMeshAddress rejects other addresses and non-addresses', t => {
  t.false(isMeshAddress('alpha', '::1'))
  t.false(isMeshAddress('alpha', '10.0.0.1'))
  t.false(isMeshAddress('alpha', 'garbage'))
  const p = meshPrefix('alpha').split('/')[0]!
  t.true(isMeshAddress('alpha', p.replace('::', '::1')))
  t.true(isMeshAddress('alpha', p.replace('::', ':0:0:0:0:1').toUpperCase()))
})

test('formatIpv6 follows RFC 5952', t => {
  const cases: Array<[string, string]> = [
    ['0:0:0:0:0:0:0:0', '::'], ['0:0:0:0:0:0:0:1', '::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'], ['FD00:ABCD::', 'fd00:abcd::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], ['::ffff:1.2.3.4', '::ffff:102:304']
  ]
  for (const [input, want] of cases) t.is(formatIpv6(parseIpv6(input)!), want, input)
  t.is(parseIpv6('1::2::3'), null)
  t.is(parseIpv6('fe80::1%eth0'), null)
})

test('collidingHosts: no collision, no movers', t => {
  const claims = ['h1', 'h2', 'h3'].map(hostId => {
    const { publicKey } = generateWgKeyPair()
    return { hostId, publicKey, address: meshAddress('alpha', publicKey) }
  })
  t.deepEqual(collidingHosts(claims), [])
})

test('collidingHosts: the smallest hostId keeps a contested address, the others move', t => {
  const keys = [1, 2, 3, 4].map(() => generateWgKeyPair().publicKey)
  const shared = meshAddress('alpha', keys[0]!)
  const claims = [
    { hostId: 'host-c', publicKey: keys[0]!, address: shared },
    { hostId: 'host-a', publicKey: keys[1]!, address: shared.toUpperCase() },
    { hostId: 'host-b', publicKey: keys[2]!, address: shared },
    { hostId: 'host-d', publicKey: keys[3]!, address: meshAddress('alpha', keys[3]!) }
  ]
  t.deepEqual(collidingHosts(claims), ['host-b', 'host-c'])
  t.deepEqual(collidingHosts([...claims].reverse()), ['host-b', 'host-c'], 'order of claims does not matter')
  // After the movers take salt 1, nothing collides.
  const moved = claims.map(c => ['host-b', 'host-c'].includes(c.hostId) ? { ...c, address: meshAddress('alpha', c.publicKey, 1) } : c)
  t.deepEqual(collidingHosts(moved), [])
})

test('collidingHosts: the same key claimed twice is no collision', t => {
  const { publicKey } = generateWgKeyPair()
  const address = meshAddress('alpha', publicKey)
  t.deepEqual(collidingHosts([{ hostId: 'b', publicKey, address }, { hostId: 'a', publicKey, address }]), [])
})
