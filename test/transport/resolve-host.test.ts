import test from 'ava'
import { UnknownHostError } from '../../src/errors/errors.js'
import { resolveHost } from '../../src/transport/resolve-host.js'
import type { PeerInfo } from '../../src/transport/transport.js'

const SELF = 'a'.repeat(64)
const H2 = 'b1' + 'c'.repeat(62)
const H3 = 'b2' + 'd'.repeat(62)

function peer (hostId: string, name: string): PeerInfo {
  return { hostId, name, version: '0.0.0', addresses: [], connected: true, lastSeen: 0, admitted: true, unreachable: false }
}

const transport = { peers: () => [peer(H2, 'h2'), peer(H3, 'h3')] }
const resolve = (host: string): string => resolveHost(host, SELF, 'h1', transport)

test('local, the own name and the own id are this host', t => {
  for (const host of ['local', 'h1', SELF]) t.is(resolve(host), SELF, host)
})

test('a peer by full id, name or a unique prefix of 4+ digits', t => {
  t.is(resolve(H2), H2)
  t.is(resolve('h3'), H3)
  t.is(resolve(H3.slice(0, 6)), H3)
  t.is(resolve(SELF.slice(0, 8)), SELF)
})

test('an ambiguous name, a too-short prefix or an unknown name is an UnknownHostError', t => {
  t.regex(t.throws(() => resolve('b1'), { instanceOf: UnknownHostError }).message, /no known host/)
  t.regex(t.throws(() => resolve('h9'), { instanceOf: UnknownHostError }).message, /no known host is called 'h9'/)
  const twoPeers = { peers: () => [peer(H2, 'twin'), peer(H3, 'twin')] }
  t.regex(t.throws(() => resolveHost('twin', SELF, 'h1', twoPeers), { instanceOf: UnknownHostError }).message, /matches 2 hosts/)
})

test('a full 64-digit id not met yet is taken as it is', t => {
  const unknown = 'e'.repeat(64)
  t.is(resolve(unknown), unknown)
})

test('a host gossip knows of but the transport never met resolves by name and prefix too (members)', t => {
  const H4 = 'f4' + 'e'.repeat(62)
  const members = [{ hostId: SELF, name: 'h1' }, { hostId: H2, name: 'h2' }, { hostId: H4, name: 'h4' }]
  t.is(resolveHost('h4', SELF, 'h1', transport, members), H4)
  t.is(resolveHost('f4ee', SELF, 'h1', transport, members), H4)
  t.is(resolveHost('h2', SELF, 'h1', transport, members), H2, 'a host both know is one host')
  t.throws(() => resolveHost('h4', SELF, 'h1', transport), { instanceOf: UnknownHostError })
})
