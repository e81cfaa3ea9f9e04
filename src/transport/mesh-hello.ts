import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Codec } from '../codec/codec.js'
import { AdmissionError } from '../errors/errors.js'
import type { ClusterKeys } from './cluster-keys.js'

/** Protocol name in the first frame of a connection between mesh addresses. */
export const MESH_HELLO = 'roost-mesh/1'

const Bytes16 = Type.Uint8Array({ minByteLength: 16, maxByteLength: 16 })
const Bytes32 = Type.Uint8Array({ minByteLength: 32, maxByteLength: 32 })
const HostId = Type.String({ pattern: '^[0-9a-f]{64}$' })

const ClientHello = TypeCompiler.Compile(Type.Object({ m: Type.Literal(MESH_HELLO), host: HostId, to: HostId, nonce: Bytes16 }))
const ServerHello = TypeCompiler.Compile(Type.Object({ m: Type.Literal(MESH_HELLO), host: HostId, nonce: Bytes16, proof: Bytes32 }))
const ClientProof = TypeCompiler.Compile(Type.Object({ proof: Bytes32 }))

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

function decodeWith<T> (codec: Codec, bytes: Uint8Array, check: { Check: (v: unknown) => boolean }, what: string): T {
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
  if (!check.Check(v)) throw new AdmissionError(`malformed ${what}`)
  return v as T
}

export const decodeClientHello = (codec: Codec, b: Uint8Array): ClientHelloMsg => decodeWith(codec, b, ClientHello, 'mesh client hello')
export const decodeServerHello = (codec: Codec, b: Uint8Array): ServerHelloMsg => decodeWith(codec, b, ServerHello, 'mesh server hello')
export const decodeClientProof = (codec: Codec, b: Uint8Array): { proof: Buffer } => decodeWith(codec, b, ClientProof, 'mesh client proof')
