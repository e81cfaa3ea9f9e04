import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Codec } from '../codec/codec.js'
import { AdmissionError } from '../errors/errors.js'

/** Version of the hello exchange. */
export const HELLO_VERSION = 1

export const HelloSchema = Type.Object({
  hello: Type.Literal(HELLO_VERSION),
  cluster: Type.String({ maxLength: 256 }),
  hostId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  name: Type.String({ maxLength: 128 }),
  version: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 32 }),
  proof: Type.Uint8Array({ minByteLength: 32, maxByteLength: 32 })
})

/** The first frame each side sends on a new connection. */
export type Hello = Static<typeof HelloSchema>

const check = TypeCompiler.Compile(HelloSchema)

export function encodeHello (codec: Codec, hello: Hello): Buffer {
  return codec.encode(hello)
}

/** Decodes and shape-checks a hello; the proof is checked by the caller. */
export function decodeHello (codec: Codec, bytes: Uint8Array): Hello {
  let value: unknown
  try {
    value = codec.decode(bytes)
  } catch {
    throw new AdmissionError('first frame is not a msgpack hello')
  }
  if (value !== null && typeof value === 'object' && (value as { proof?: unknown }).proof instanceof Uint8Array) {
    const v = value as { proof: Uint8Array }
    if (!(v.proof instanceof Buffer)) v.proof = Buffer.from(v.proof)
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First()
    throw new AdmissionError(`malformed hello${first === undefined ? '' : ` at '${first.path}': ${first.message}`}`)
  }
  return value
}
