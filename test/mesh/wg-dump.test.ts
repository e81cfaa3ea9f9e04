import test from 'ava'
import { MeshError } from '../../src/errors/errors.js'
import { parseWgDump } from '../../src/mesh/wg-dump.js'

const PRIV = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk='
const PUB = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw='
const PEER1 = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg='
const PEER2 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0='

test('parses an interface with peers: endpoints, (none), several allowed IPs, never handshaked', t => {
  const text = [
    `${PRIV}\t${PUB}\t51820\toff`,
    `${PEER1}\t(none)\t10.78.0.2:51821\tfd3c:91a2:7e10::1/128,10.1.0.0/16\t1700000000\t1234\t5678\t25`,
    `${PEER2}\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
    `${PEER1.replace('x', 'y')}\t(none)\t[fd00::2]:443\tfd00::/64\t0\t0\t148\toff`,
    ''
  ].join('\n')
  const s = parseWgDump(text)
  t.is(s.publicKey, PUB)
  t.is(s.listenPort, 51820)
  t.false(JSON.stringify(s).includes(PRIV), 'no private key in the result')
  t.deepEqual(s.peers, [
    { publicKey: PEER1, endpoint: '10.78.0.2:51821', allowedIps: ['fd3c:91a2:7e10::1/128', '10.1.0.0/16'], latestHandshake: 1700000000, rxBytes: 1234, txBytes: 5678, keepaliveS: 25 },
    { publicKey: PEER2, endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, keepaliveS: null },
    { publicKey: PEER1.replace('x', 'y'), endpoint: '[fd00::2]:443', allowedIps: ['fd00::/64'], latestHandshake: 0, rxBytes: 0, txBytes: 148, keepaliveS: null }
  ])
})

test('parses a fresh interface without key or peers', t => {
  t.deepEqual(parseWgDump('(none)\t(none)\t35299\toff\n'), { publicKey: '', listenPort: 35299, peers: [] })
})

test('malformed dumps are MeshErrors that do not echo keys', t => {
  const bad = [
    '',
    `${PRIV}\t${PUB}\t51820`,
    `${PRIV}\t${PUB}\tport\toff`,
    `${PRIV}\t${PUB}\t51820\toff\n${PEER1}\t(none)\t(none)\t(none)\t0\t0\t0`,
    `${PRIV}\t${PUB}\t51820\toff\n${PEER1}\t(none)\t(none)\t(none)\tnever\t0\t0\toff`,
    `${PRIV}\t${PUB}\t51820\toff\nnot-a-key\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
    `${PRIV}\t${PUB}\t51820\toff\n${PEER1}\t(none)\t(none)\t(none)\t0\t-1\t0\toff`,
    'interface: wg0\n  public key: abc'
  ]
  for (const text of bad) {
    const err = t.throws(() => parseWgDump(text), { instanceOf: MeshError }, JSON.stringify(text))
    t.false(err?.message.includes(PRIV) ?? true)
    t.false(JSON.stringify((err as MeshError | undefined)?.details ?? {}).includes(PRIV))
  }
})
