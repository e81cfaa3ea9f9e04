import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Codec } from '../codec/codec.js'
import { AdmissionError } from '../errors/errors.js'

/** Version of the hello exchange. */
export const HELLO_VERSION = 1

/** Every bound here keeps the largest hello under `UNADMITTED_MAX_FRAME_BYTES` (test/transport/hello.test.ts checks). */
export const HelloSchema = Type.Object({
  hello: Type.Literal(HELLO_VERSION),
  cluster: Type.String({ maxLength: 256 }),
  hostId: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  name: Type.String({ maxLength: 128 }),
  version: Type.String({ maxLength: 64 }),
  addresses: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 8 }),
  proof: Type.Uint8Array({ minByteLength: 32, maxByteLength: 32 }),
  /**
   * Envelope versions the host speaks (see codec/compact-envelope.ts); absent: version 1 only.
   * Hosts from before it admit a hello that has it: their schema allows fields it does not name.
   */
  envelopes: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 255 }), { maxItems: 8 }))
})

/** The first frame each side sends on a new connection. */
export type Hello = Static<typeof HelloSchema>

/** What a host sends instead of going on when it refuses the other's hello. */
export const RefusalSchema = Type.Object({
  refused: Type.String({ maxLength: 64 }),
  message: Type.String({ maxLength: 256 })
})

export type Refusal = Static<typeof RefusalSchema>

/** The first frame from a peer: its hello, or its refusal of ours. */
export type FirstFrame = { kind: 'hello', hello: Hello } | { kind: 'refusal', refusal: Refusal }

const checkHello = TypeCompiler.Compile(HelloSchema)
const checkRefusal = TypeCompiler.Compile(RefusalSchema)

export function encodeHello (codec: Codec, hello: Hello): Buffer {
  return codec.encode(hello)
}

export function encodeRefusal (codec: Codec, refusal: Refusal): Buffer {
  return codec.encode(refusal)
}

/**
 * Decodes a peer's first frame, once, and shape-checks it as a refusal or a hello; the proof is
 * checked by the caller. Anything else throws {@link AdmissionError}.
 */
export function decodeFirstFrame (codec: Codec, bytes: Uint8Array): FirstFrame {
  let value: unknown
  try {
    value = codec.decode(bytes)
  } catch {
    throw new AdmissionError('first frame is not a msgpack hello')
  }
  if (checkRefusal.Check(value)) return { kind: 'refusal', refusal: value }
  if (value !== null && typeof value === 'object' && (value as { proof?: unknown }).proof instanceof Uint8Array) {
    const v = value as { proof: Uint8Array }
    if (!(v.proof instanceof Buffer)) v.proof = Buffer.from(v.proof)
  }
  if (!checkHello.Check(value)) {
    const first = checkHello.Errors(value).First()
    throw new AdmissionError(`malformed hello${first === undefined ? '' : ` at '${first.path}': ${first.message}`}`)
  }
  return { kind: 'hello', hello: value }
}
