import type { TObject } from '@sinclair/typebox'
import { compileFlatBody, flatSignature, readFlatHead, type FlatBodyCodec } from './flat-body.js'

/**
 * The flat message types this process knows (flat-body.ts), by type name: every protocol
 * registers its types as it is defined (codec/protocol.ts), and a type's codec is generated
 * when its first message is written or read (most of an agent's ~90 types never are). A codec is only ever a faster way to
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
  /** Per type: its schema while it may be compiled, null once it may not (not flat, or two shapes). */
  const schemas = new Map<string, TObject | null>()
  const signatures = new Map<string, string | null>()
  const compiled = new Map<string, FlatBodyCodec | null>()
  const head = { type: '', pos: 0, entries: 0 }
  const codecOf = (type: string): FlatBodyCodec | undefined => {
    const known = compiled.get(type)
    if (known !== undefined) return known ?? undefined
    const schema = schemas.get(type)
    if (schema === undefined || schema === null) return undefined
    const codec = compileFlatBody(type, schema)
    compiled.set(type, codec)
    return codec ?? undefined
  }
  return {
    register (type, body) {
      const signature = flatSignature(body)
      if (!signatures.has(type)) {
        signatures.set(type, signature)
        schemas.set(type, signature === null ? null : body)
        return
      }
      if (signatures.get(type) === signature) return
      schemas.set(type, null)
      compiled.delete(type)
    },
    encoder: codecOf,
    decode (bytes, pos, end) {
      if (!readFlatHead(bytes, pos, end, head)) return undefined
      return codecOf(head.type)?.decode(bytes, head.pos, end, head.entries, head.type)
    }
  }
}

/** This process's table (the protocols defined in it). */
export const flatBodies: FlatBodies = createFlatBodies()
