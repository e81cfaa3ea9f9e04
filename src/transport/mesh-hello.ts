import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Codec } from '../codec/codec.js'
import { AdmissionError } from '../errors/errors.js'
import type { ClusterKeys } from './cluster-keys.js'
import { bytesOf, literal, object, shapeFault, string, type ShapeCheck } from './wire-shape.js'

/** Protocol name in the first frame of a connection between mesh addresses. */
export const MESH_HELLO = 'roost-mesh/1'

const hostId = string({ pattern: /^[0-9a-f]{64}$/ })

const clientHello = object({ m: literal(MESH_HELLO), host: hostId, to: hostId, nonce: bytesOf(16) })
const serverHello = object({ m: literal(MESH_HELLO), host: hostId, nonce: bytesOf(16), proof: bytesOf(32) })
const clientProof = object({ proof: bytesOf(32) })

export interface ClientHelloMsg { m: typeof MESH_HELLO, host: string, to: string, nonce: Buffer }
export interface ServerHelloMsg { m: typeof MESH_HELLO, host: string, nonce: Buffer, proof: Buffer }

export function newNonce (): Buffer {
  return randomBytes(16)
}

/**
 * HMAC with the cluster's hello key over both nonces and both host ids, so a proof is good for
 * one connection and one direction only. WireGuard already authenticated the packets; this
 * proves the other end is an admitted host of this cluster and names which one.
 */
export function meshProof (keys: ClusterKeys, role: 'client' | 'server', clientNonce: Uint8Array, serverNonce: Uint8Array, self: string, other: string): Buffer {
  return createHmac('sha256', keys.helloKey).update(`roost/mesh-hello/v1\0${role}\0`)
    .update(clientNonce).update(serverNonce).update(`${self}\0${other}`).digest()
}

export function proofMatches (expected: Buffer, got: Uint8Array): boolean {
  return got.byteLength === expected.byteLength && timingSafeEqual(expected, got)
}

function decodeWith<T> (codec: Codec, bytes: Uint8Array, shape: ShapeCheck, what: string): T {
  let v: unknown
  try {
    v = codec.decode(bytes)
  } catch {
    throw new AdmissionError(`${what} is not msgpack`)
  }
  if (v !== null && typeof v === 'object') {
    for (const k of ['nonce', 'proof'] as const) {
      const f = (v as Record<string, unknown>)[k]
      if (f instanceof Uint8Array && !(f instanceof Buffer)) (v as Record<string, unknown>)[k] = Buffer.from(f)
    }
  }
  if (shapeFault(shape, v) !== undefined) throw new AdmissionError(`malformed ${what}`)
  return v as T
}

export const decodeClientHello = (codec: Codec, b: Uint8Array): ClientHelloMsg => decodeWith(codec, b, clientHello, 'mesh client hello')
export const decodeServerHello = (codec: Codec, b: Uint8Array): ServerHelloMsg => decodeWith(codec, b, serverHello, 'mesh server hello')
export const decodeClientProof = (codec: Codec, b: Uint8Array): { proof: Buffer } => decodeWith(codec, b, clientProof, 'mesh client proof')
