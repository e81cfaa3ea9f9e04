import type { TObject } from '@sinclair/typebox'
import { compileFlatBody, flatSignature, readFlatHead, type FlatBodyCodec } from './flat-body.js'

/**
 * The flat message types this process knows (flat-body.ts), by type name: every protocol
 * registers its types as it is defined (codec/protocol.ts), and a type's codec is generated
 * when its first message is written or read (most of an agent's ~90 types never are). A codec is
 * only ever a faster way to the bytes and values msgpackr gives, so one process-wide table is
 * safe: a type this process does not know, or knows under two different shapes, simply goes
 * through msgpackr.
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
  /**
   * Per type: its shape's signature (null: not flat), its schema while it may still be compiled
   * (null once two shapes were registered under its name), and its codec once compiled.
   */
  const types = new Map<string, { signature: string | null, schema: TObject | null, codec?: FlatBodyCodec | null }>()
  const head = { type: '', pos: 0, entries: 0 }
  const codecOf = (type: string): FlatBodyCodec | undefined => {
    const t = types.get(type)
    if (t === undefined || t.schema === null) return undefined
    if (t.codec === undefined) t.codec = compileFlatBody(type, t.schema)
    return t.codec ?? undefined
  }
  return {
    register (type, body) {
      const signature = flatSignature(body)
      const known = types.get(type)
      if (known === undefined) types.set(type, { signature, schema: signature === null ? null : body })
      else if (known.signature !== signature) types.set(type, { signature: known.signature, schema: null })
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
