import type { TObject } from '@sinclair/typebox'
import { compileFlatBody, flatSignature, readFlatHead, type FlatBodyCodec } from './flat-body.js'

/**
 * The flat message types this process knows (flat-body.ts), by type name: every protocol
 * registers its types as it is defined (codec/protocol.ts). A codec is only ever a faster way to
 * the bytes and values msgpackr gives, so one process-wide table is safe: a type this process
 * does not know, or knows under two different shapes, simply goes through msgpackr.
 */
export interface FlatBodies {
  /** Registers `type`'s body schema; a second, different shape under the same name turns the type's codec off. */
  register: (type: string, body: TObject) => void
  /** The codec of `type`, if it is flat and known here. */
  encoder: (type: string) => FlatBodyCodec | undefined
  /** The body at `bytes[pos, end)` if it is a flat body of a type known here, else undefined (decode it with msgpackr). */
  decode: (bytes: Uint8Array, pos: number, end: number) => Record<string, unknown> | undefined
}

export function createFlatBodies (): FlatBodies {
  const codecs = new Map<string, FlatBodyCodec | null>()
  const signatures = new Map<string, string | null>()
  const head = { type: '', pos: 0, entries: 0 }
  return {
    register (type, body) {
      const signature = flatSignature(body)
      if (!signatures.has(type)) {
        signatures.set(type, signature)
        codecs.set(type, signature === null ? null : compileFlatBody(type, body))
        return
      }
      if (signatures.get(type) !== signature) codecs.set(type, null)
    },
    encoder: (type) => codecs.get(type) ?? undefined,
    decode (bytes, pos, end) {
      if (!readFlatHead(bytes, pos, end, head)) return undefined
      return codecs.get(head.type)?.decode(bytes, head.pos, end, head.entries, head.type)
    }
  }
}

/** This process's table (the protocols defined in it). */
export const flatBodies: FlatBodies = createFlatBodies()
