import type { Codec } from '../codec/codec.js'
import { AdmissionError } from '../errors/errors.js'
import { arrayOf, bytesOf, integer, literal, object, shapeFault, string } from './wire-shape.js'

/** Version of the hello exchange. */
export const HELLO_VERSION = 1

/** The first frame each side sends on a new connection. */
export interface Hello {
  hello: typeof HELLO_VERSION
  cluster: string
  /** The host's public key, 64 lowercase hex digits. */
  hostId: string
  name: string
  version: string
  addresses: string[]
  proof: Uint8Array
  /**
   * Envelope versions the host speaks (see codec/compact-envelope.ts); absent: version 1 only.
   * Hosts from before it admit a hello that has it: their check allows fields it does not name.
   */
  envelopes?: number[]
  /**
   * The host reads payload frames that come without a session header (mesh-transport.ts sends
   * them where a pair can only ever have one path). Absent: a host from before, which reads
   * session frames only.
   */
  directFrames?: true
  /** The host runs without a WireGuard path (`--wireguard off`): messages to it can only take the stream. */
  streamOnly?: true
}

/** Every bound here keeps the largest hello under `UNADMITTED_MAX_FRAME_BYTES` (test/transport/hello.test.ts checks). */
const helloShape = object({
  hello: literal(HELLO_VERSION),
  cluster: string({ maxLength: 256 }),
  hostId: string({ pattern: /^[0-9a-f]{64}$/ }),
  name: string({ maxLength: 128 }),
  version: string({ maxLength: 64 }),
  addresses: arrayOf(string({ maxLength: 64 }), 8),
  proof: bytesOf(32)
}, {
  envelopes: arrayOf(integer(1, 255), 8),
  directFrames: literal(true),
  streamOnly: literal(true)
})

/** What a host sends instead of going on when it refuses the other's hello. */
export interface Refusal {
  refused: string
  message: string
}

const refusalShape = object({ refused: string({ maxLength: 64 }), message: string({ maxLength: 256 }) })

/** The first frame from a peer: its hello, or its refusal of ours. */
export type FirstFrame = { kind: 'hello', hello: Hello } | { kind: 'refusal', refusal: Refusal }

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
  if (shapeFault(refusalShape, value) === undefined) return { kind: 'refusal', refusal: value as Refusal }
  if (value !== null && typeof value === 'object' && (value as { proof?: unknown }).proof instanceof Uint8Array) {
    const v = value as { proof: Uint8Array }
    if (!(v.proof instanceof Buffer)) v.proof = Buffer.from(v.proof)
  }
  const fault = shapeFault(helloShape, value)
  if (fault !== undefined) throw new AdmissionError(`malformed hello at '${fault.path}': ${fault.message}`)
  return { kind: 'hello', hello: value as Hello }
}
