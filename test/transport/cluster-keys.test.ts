import test from 'ava'
import { randomBytes } from 'node:crypto'
import { deriveClusterKeys, helloProof, verifyHelloProof } from '../../src/transport/cluster-keys.js'

const keys = deriveClusterKeys('prod', 's3cret')
const handshake = randomBytes(64)
const publicKey = randomBytes(32)

test('derived keys are 32-byte, deterministic, and carry the cluster name', t => {
  const again = deriveClusterKeys('prod', 's3cret')
  t.is(keys.cluster, 'prod')
  t.is(keys.topic.byteLength, 32)
  t.is(keys.helloKey.byteLength, 32)
  t.deepEqual(again.topic, keys.topic)
  t.deepEqual(again.helloKey, keys.helloKey)
  t.notDeepEqual(keys.topic, keys.helloKey)
})

test('certKey is a 32-byte key of its own, which differs by secret and by cluster', t => {
  t.is(keys.certKey.byteLength, 32)
  t.deepEqual(deriveClusterKeys('prod', 's3cret').certKey, keys.certKey)
  t.notDeepEqual(keys.certKey, keys.helloKey)
  t.notDeepEqual(keys.certKey, keys.topic)
  t.notDeepEqual(deriveClusterKeys('prod', 'other').certKey, keys.certKey)
  t.notDeepEqual(deriveClusterKeys('staging', 's3cret').certKey, keys.certKey)
})

test('topic differs by secret', t => {
  t.notDeepEqual(deriveClusterKeys('prod', 'other').topic, keys.topic)
  t.notDeepEqual(deriveClusterKeys('prod', 'other').helloKey, keys.helloKey)
})

test('topic differs by cluster name', t => {
  t.notDeepEqual(deriveClusterKeys('staging', 's3cret').topic, keys.topic)
  t.notDeepEqual(deriveClusterKeys('staging', 's3cret').helloKey, keys.helloKey)
})

test('name and secret are separated: moving characters between them changes the keys', t => {
  t.notDeepEqual(deriveClusterKeys('ab', 'c').topic, deriveClusterKeys('a', 'bc').topic)
})

test('the proof verifies for the right key, handshake hash and public key', t => {
  const proof = helloProof(keys, handshake, publicKey)
  t.is(proof.byteLength, 32)
  t.deepEqual(helloProof(keys, handshake, publicKey), proof)
  t.true(verifyHelloProof(keys, handshake, publicKey, proof))
  t.true(verifyHelloProof(deriveClusterKeys('prod', 's3cret'), Buffer.from(handshake), Buffer.from(publicKey), new Uint8Array(proof)))
})

test('the proof fails for another secret', t => {
  const proof = helloProof(deriveClusterKeys('prod', 'wrong'), handshake, publicKey)
  t.false(verifyHelloProof(keys, handshake, publicKey, proof))
})

test('the proof fails for another cluster name with the same secret', t => {
  const proof = helloProof(deriveClusterKeys('staging', 's3cret'), handshake, publicKey)
  t.false(verifyHelloProof(keys, handshake, publicKey, proof))
})

test('the proof fails for another handshake hash (a replay on another session)', t => {
  const proof = helloProof(keys, handshake, publicKey)
  t.false(verifyHelloProof(keys, randomBytes(64), publicKey, proof))
})

test('the proof fails for another public key', t => {
  const proof = helloProof(keys, handshake, publicKey)
  t.false(verifyHelloProof(keys, handshake, randomBytes(32), proof))
})

test('a tampered, truncated or empty proof fails (without throwing)', t => {
  const proof = helloProof(keys, handshake, publicKey)
  const flipped = Buffer.from(proof)
  flipped[0] = (flipped[0] as number) ^ 1
  t.false(verifyHelloProof(keys, handshake, publicKey, flipped))
  t.false(verifyHelloProof(keys, handshake, publicKey, proof.subarray(0, 31)))
  t.false(verifyHelloProof(keys, handshake, publicKey, Buffer.concat([proof, Buffer.from([0])])))
  t.false(verifyHelloProof(keys, handshake, publicKey, new Uint8Array(0)))
})
