import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Keys derived from the cluster name and secret. The secret itself never leaves the host:
 * peers prove they know it by an HMAC bound to their own Noise session.
 */
export interface ClusterKeys {
  cluster: string
  /** The hyperswarm topic hosts of this cluster announce themselves under. */
  topic: Buffer
  /** HMAC key for hello proofs. */
  helloKey: Buffer
  /** HMAC key of the routers' backhaul headers. */
  backhaulKey: Buffer
  /** AES-256-GCM key sealing the private keys in the gossiped `certs` table (src/proxy/tls/seal.ts). */
  certKey: Buffer
}

export function deriveClusterKeys (cluster: string, secret: string): ClusterKeys {
  const base = createHash('sha256').update(`roost/cluster/v1\0${cluster}\0${secret}`).digest()
  return {
    cluster,
    topic: createHash('sha256').update('roost/topic/v1\0').update(base).digest(),
    helloKey: createHash('sha256').update('roost/hello-key/v1\0').update(base).digest(),
    backhaulKey: createHash('sha256').update('roost/backhaul-key/v1\0').update(base).digest(),
    certKey: createHash('sha256').update('roost/cert-key/v1\0').update(base).digest()
  }
}

/** Proof that the owner of `publicKey` knows the secret, valid only for this session. */
export function helloProof (keys: ClusterKeys, handshakeHash: Uint8Array, publicKey: Uint8Array): Buffer {
  return createHmac('sha256', keys.helloKey).update('roost/hello/v1\0').update(handshakeHash).update(publicKey).digest()
}

export function verifyHelloProof (keys: ClusterKeys, handshakeHash: Uint8Array, publicKey: Uint8Array, proof: Uint8Array): boolean {
  const expected = helloProof(keys, handshakeHash, publicKey)
  return proof.byteLength === expected.byteLength && timingSafeEqual(expected, proof)
}
