import test from 'ava'
import { MeshError } from '../../src/errors/errors.js'
import { generateWgKeyPair } from '../../src/mesh/wg-keys.js'
import { initiatesHandshake, uapiConfigSet, uapiRecreate, uapiPeersSet, uapiPrimeSets, validatePeers, type WgPeerSpec } from '../../src/mesh/wg-peers.js'

const [a, b, c] = [1, 2, 3].map(() => generateWgKeyPair().publicKey) as [string, string, string]
const h = (key: string): string => Buffer.from(key, 'base64').toString('hex')
const peer = (publicKey: string, endpoint = '10.78.0.2:51820', allowedIps = ['fd00::1/128'], keepaliveS?: number): WgPeerSpec =>
  ({ publicKey, endpoint, allowedIps, ...(keepaliveS === undefined ? {} : { keepaliveS }) })

test('uapiPeersSet: adds, changes and removals in one UAPI set; nothing for an equal set', t => {
  const from = [peer(a), peer(b)]
  t.is(uapiPeersSet(from, [peer(b), peer(a)]), '')
  t.is(uapiPeersSet(from, [peer(a), peer(b, '[fd00::9]:1', ['fd00::2/128', '10.0.0.0/8'], 25), peer(c)]), [
    `public_key=${h(b)}`, 'endpoint=[fd00::9]:1', 'persistent_keepalive_interval=25', 'replace_allowed_ips=true', 'allowed_ip=fd00::2/128', 'allowed_ip=10.0.0.0/8',
    `public_key=${h(c)}`, 'endpoint=10.78.0.2:51820', 'persistent_keepalive_interval=0', 'replace_allowed_ips=true', 'allowed_ip=fd00::1/128', ''
  ].join('\n'))
  t.is(uapiPeersSet(from, [peer(b)]), `public_key=${h(a)}\nremove=true\n`)
  t.is(uapiPeersSet([], []), '')
})

test('validatePeers refuses what must not reach wg argv', t => {
  t.notThrows(() => { validatePeers([peer(a), peer(b, '[fd00::1]:51820', [], 25)]) })
  const bad: WgPeerSpec[][] = [
    [peer('remove')], [peer(a), peer(a)], [peer(a, 'host:1')], [peer(a, '1.2.3.4')],
    [peer(a, '1.2.3.4:5', ['remove'])], [peer(a, '1.2.3.4:5', ['fd00::1/128'], -1)], [peer(a, '1.2.3.4:5', ['fd00::1/128'], 1.5)]
  ]
  for (const peers of bad) t.throws(() => { validatePeers(peers) }, { instanceOf: MeshError }, JSON.stringify(peers))
})

test('uapiConfigSet sets key and port and replaces every peer, as wg setconf does', t => {
  const { privateKey } = generateWgKeyPair()
  const text = uapiConfigSet(privateKey, 51820, [peer(a, '10.0.0.1:1', ['fd00::1/128', '10.9.0.0/16'], 25), peer(b, '10.0.0.2:2', [])])
  t.is(text, [
    `private_key=${h(privateKey)}`, 'listen_port=51820', 'replace_peers=true',
    `public_key=${h(a)}`, 'endpoint=10.0.0.1:1', 'persistent_keepalive_interval=25', 'replace_allowed_ips=true', 'allowed_ip=fd00::1/128', 'allowed_ip=10.9.0.0/16',
    `public_key=${h(b)}`, 'endpoint=10.0.0.2:2', 'persistent_keepalive_interval=0', 'replace_allowed_ips=true', ''
  ].join('\n'))
})

test('uapiPrimeSets turns every peer\'s keepalive from off to on once, ending at its own setting', t => {
  t.is(uapiPrimeSets([]), null)
  t.deepEqual(uapiPrimeSets([peer(a), peer(b, undefined, undefined, 25), peer(c, undefined, undefined, 0)]), [
    [`public_key=${h(a)}`, 'persistent_keepalive_interval=1', `public_key=${h(b)}`, 'persistent_keepalive_interval=0', `public_key=${h(c)}`, 'persistent_keepalive_interval=1', ''].join('\n'),
    [`public_key=${h(a)}`, 'persistent_keepalive_interval=0', `public_key=${h(b)}`, 'persistent_keepalive_interval=25', `public_key=${h(c)}`, 'persistent_keepalive_interval=0', ''].join('\n')
  ])
})

test('of two peers exactly one starts the handshake', t => {
  for (const [x, y] of [[a, b], [b, c], [a, c]] as const) t.true(initiatesHandshake(x, y) !== initiatesHandshake(y, x))
})

test('uapiRecreate removes each peer and adds it again as it is, in one set', t => {
  t.is(uapiRecreate([peer(a, '10.0.0.1:1', ['fd00::1/128'], 15)]), [
    `public_key=${h(a)}`, 'remove=true',
    `public_key=${h(a)}`, 'endpoint=10.0.0.1:1', 'persistent_keepalive_interval=15', 'replace_allowed_ips=true', 'allowed_ip=fd00::1/128', ''
  ].join('\n'))
})
