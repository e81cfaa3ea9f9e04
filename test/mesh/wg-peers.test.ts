import test from 'ava'
import { MeshError } from '../../src/errors/errors.js'
import { generateWgKeyPair } from '../../src/mesh/wg-keys.js'
import { peerDiffArgs, primeHandshakeArgs, renderConfig, validatePeers, type WgPeerSpec } from '../../src/mesh/wg-peers.js'

const [a, b, c] = [1, 2, 3].map(() => generateWgKeyPair().publicKey) as [string, string, string]
const peer = (publicKey: string, endpoint = '10.78.0.2:51820', allowedIps = ['fd00::1/128'], keepaliveS?: number): WgPeerSpec =>
  ({ publicKey, endpoint, allowedIps, ...(keepaliveS === undefined ? {} : { keepaliveS }) })

test('peerDiffArgs: adds, changes and removals in one argument list; nothing for an equal set', t => {
  const from = [peer(a), peer(b)]
  t.deepEqual(peerDiffArgs(from, [peer(b), peer(a)]), [])
  t.deepEqual(peerDiffArgs(from, [peer(a), peer(b, '[fd00::9]:1', ['fd00::2/128', '10.0.0.0/8'], 25), peer(c)]), [
    'peer', b, 'endpoint', '[fd00::9]:1', 'persistent-keepalive', '25', 'allowed-ips', 'fd00::2/128,10.0.0.0/8',
    'peer', c, 'endpoint', '10.78.0.2:51820', 'persistent-keepalive', '0', 'allowed-ips', 'fd00::1/128'
  ])
  t.deepEqual(peerDiffArgs(from, [peer(b)]), ['peer', a, 'remove'])
  t.deepEqual(peerDiffArgs([], []), [])
})

test('validatePeers refuses what must not reach wg argv', t => {
  t.notThrows(() => { validatePeers([peer(a), peer(b, '[fd00::1]:51820', [], 25)]) })
  const bad: WgPeerSpec[][] = [
    [peer('remove')], [peer(a), peer(a)], [peer(a, 'host:1')], [peer(a, '1.2.3.4')],
    [peer(a, '1.2.3.4:5', ['remove'])], [peer(a, '1.2.3.4:5', ['fd00::1/128'], -1)], [peer(a, '1.2.3.4:5', ['fd00::1/128'], 1.5)]
  ]
  for (const peers of bad) t.throws(() => { validatePeers(peers) }, { instanceOf: MeshError }, JSON.stringify(peers))
})

test('renderConfig writes a wg setconf file', t => {
  const { privateKey } = generateWgKeyPair()
  const text = renderConfig(privateKey, 51820, [peer(a, '10.0.0.1:1', ['fd00::1/128', '10.9.0.0/16'], 25), peer(b, '10.0.0.2:2', [])])
  t.is(text, [
    '[Interface]', `PrivateKey = ${privateKey}`, 'ListenPort = 51820', '',
    '[Peer]', `PublicKey = ${a}`, 'Endpoint = 10.0.0.1:1', 'AllowedIPs = fd00::1/128, 10.9.0.0/16', 'PersistentKeepalive = 25', '',
    '[Peer]', `PublicKey = ${b}`, 'Endpoint = 10.0.0.2:2', ''
  ].join('\n'))
})

test('primeHandshakeArgs turns every peer\'s keepalive from off to on once, ending at its own setting', t => {
  t.is(primeHandshakeArgs([]), null)
  t.deepEqual(primeHandshakeArgs([peer(a), peer(b, undefined, undefined, 25), peer(c, undefined, undefined, 0)]), [
    ['peer', a, 'persistent-keepalive', '1', 'peer', b, 'persistent-keepalive', '0', 'peer', c, 'persistent-keepalive', '1'],
    ['peer', a, 'persistent-keepalive', '0', 'peer', b, 'persistent-keepalive', '25', 'peer', c, 'persistent-keepalive', '0']
  ])
})
