import { MalformedFrameError } from '../errors/errors.js'

/** How many containers (arrays, maps) a value may nest; roost's deepest messages use about ten. */
export const DEFAULT_MAX_DEPTH = 64

/** msgpack extension type msgpackr writes for `undefined` (fixext 1, one filler byte). */
export const EXT_UNDEFINED = 0x00
/** msgpack's timestamp extension (type -1), which msgpackr writes for a `Date`. */
export const EXT_TIMESTAMP = 0xff

export interface ScanLimits {
  maxDepth: number
}

/**
 * Checks, in one pass over the bytes and without building anything, that they hold exactly one
 * msgpack value that roost may decode: no extension types besides `undefined` and timestamps
 * (so no BigInt, records, structured-clone references, errors, sets, typed arrays, string
 * bundles), no `0xc1`, nesting no deeper than `maxDepth`, nothing truncated and nothing after
 * the value. Its cost is linear in the number of values and does not depend on their content,
 * and its errors say where, never what: msgpackr's own error path may stringify the value.
 */
export function scanMsgpack (bytes: Uint8Array, limits: ScanLimits, start = 0, end = bytes.byteLength): void {
  const maxDepth = limits.maxDepth
  // remaining[d]: values still to read in the container open at depth d (depth 0: the top level).
  // The scan never calls out, so one scratch stack serves every call.
  if (stack.length <= maxDepth) stack = new Float64Array(maxDepth + 1)
  const remaining = stack
  remaining[0] = 1
  let depth = 0
  let pos = start
  for (;;) {
    if (remaining[depth] === 0) {
      if (depth === 0) break
      depth--
      continue
    }
    remaining[depth] = (remaining[depth] as number) - 1
    if (pos >= end) throw truncated(pos)
    const at = pos
    const t = bytes[pos++] as number
    if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue
    let children = -1
    let skip = 0
    if (t < 0x90) children = (t & 0x0f) * 2
    else if (t < 0xa0) children = t & 0x0f
    else if (t < 0xc0) skip = t & 0x1f
    else {
      switch (t) {
        case 0xc4: case 0xd9: skip = 1 + lengthAt(bytes, pos, 1); break
        case 0xc5: case 0xda: skip = 2 + lengthAt(bytes, pos, 2); break
        case 0xc6: case 0xdb: skip = 4 + lengthAt(bytes, pos, 4); break
        case 0xcc: case 0xd0: skip = 1; break
        case 0xcd: case 0xd1: skip = 2; break
        case 0xca: case 0xce: case 0xd2: skip = 4; break
        case 0xcb: case 0xcf: case 0xd3: skip = 8; break
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: {
          const n = 1 << (t - 0xd4)
          if (pos + 1 + n > end) throw truncated(pos)
          const type = bytes[pos] as number
          if (!(t === 0xd4 && type === EXT_UNDEFINED)) checkExt(type, n, at)
          skip = 1 + n
          break
        }
        case 0xc7: case 0xc8: case 0xc9: {
          const w = t === 0xc7 ? 1 : t === 0xc8 ? 2 : 4
          const n = lengthAt(bytes, pos, w)
          if (pos + w >= end) throw truncated(pos)
          checkExt(bytes[pos + w] as number, n, at)
          skip = w + 1 + n
          break
        }
        case 0xdc: children = lengthAt(bytes, pos, 2); skip = 2; break
        case 0xdd: children = lengthAt(bytes, pos, 4); skip = 4; break
        case 0xde: children = lengthAt(bytes, pos, 2) * 2; skip = 2; break
        case 0xdf: children = lengthAt(bytes, pos, 4) * 2; skip = 4; break
        default: throw refused(`byte 0x${t.toString(16)} at ${at} is not used by roost`)
      }
    }
    pos += skip
    if (pos > end) throw truncated(at)
    if (children < 0) continue
    if (depth >= maxDepth) throw refused(`nested deeper than ${maxDepth} at byte ${at}`)
    if (children > end - pos) throw refused(`truncated: ${children} values announced at byte ${at}`)
    if (children > 0) remaining[++depth] = children
  }
  if (pos !== end) throw refused(`${end - pos} bytes after the value`)
}

let stack = new Float64Array(DEFAULT_MAX_DEPTH + 1)

/** The big-endian unsigned length of `width` bytes at `pos`. */
function lengthAt (bytes: Uint8Array, pos: number, width: 1 | 2 | 4): number {
  if (pos + width > bytes.byteLength) throw truncated(pos)
  const b0 = bytes[pos] as number
  if (width === 1) return b0
  const b1 = bytes[pos + 1] as number
  if (width === 2) return b0 << 8 | b1
  return b0 * 0x1000000 + ((b1 << 16) | ((bytes[pos + 2] as number) << 8) | (bytes[pos + 3] as number))
}

function checkExt (type: number, length: number, at: number): void {
  if (type === EXT_TIMESTAMP && (length === 4 || length === 8 || length === 12)) return
  throw refused(type === EXT_UNDEFINED ? `malformed undefined at byte ${at}` : `extension type 0x${type.toString(16).padStart(2, '0')} at byte ${at} is not allowed`)
}

function truncated (at: number): MalformedFrameError {
  return refused(`truncated at byte ${at}`)
}

function refused (why: string): MalformedFrameError {
  return new MalformedFrameError(`frame is not valid msgpack: ${why}`)
}
