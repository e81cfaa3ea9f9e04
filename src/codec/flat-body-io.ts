// The run-time half of the generated flat-body codecs (flat-body.ts): msgpackr-exact writers of
// strings and numbers, and readers that leave their value in HELPERS.value (one shared slot: the
// generated code reads it at once, nothing is re-entered).

import { createRecentStrings } from './recent-strings.js'

/** Strings up to this many bytes are kept by the decoder, as msgpackr keeps its keys. */
const CACHED_STRING_BYTES = 64
const STRING_CACHE_SLOTS = 512

/** Shared by every generated codec: the value last read, the writers and readers. */
export interface Helpers {
  /** The value the last read* call read. */
  value: unknown
  str: (b: Uint8Array, p: number, s: string) => number
  num: (b: Uint8Array, p: number, n: number) => number
  readNumber: (bytes: Uint8Array, p: number, end: number) => number
  readString: (bytes: Uint8Array, p: number, end: number) => number
  readBoolean: (bytes: Uint8Array, p: number, end: number) => number
  readNull: (bytes: Uint8Array, p: number, end: number) => number
  /** Any value a flat body holds: a number, ASCII string, boolean or null. */
  readValue: (bytes: Uint8Array, p: number, end: number) => number
}

const strings = createRecentStrings(STRING_CACHE_SLOTS, CACHED_STRING_BYTES)
const scratch = new DataView(new ArrayBuffer(8))

export const HELPERS: Helpers = {
  value: undefined,
  // As msgpackr writes an ASCII string: its header from the length, then its bytes; -1 for any other string.
  str (b, p, s) {
    const n = s.length
    if (n < 0x20) b[p++] = 0xa0 | n
    else if (n < 0x100) { b[p++] = 0xd9; b[p++] = n } else if (n < 0x10000) { b[p++] = 0xda; b[p++] = n >> 8; b[p++] = n & 0xff } else { b[p++] = 0xdb; b[p++] = n >>> 24; b[p++] = (n >> 16) & 0xff; b[p++] = (n >> 8) & 0xff; b[p++] = n & 0xff }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return -1
      b[p + i] = c
    }
    return p + n
  },
  // As msgpackr writes a number (useRecords off, no float32): the smallest integer form for 32-bit integers, else a float64.
  num (b, p, n) {
    if (n >>> 0 === n) {
      if (n < 0x80) b[p++] = n
      else if (n < 0x100) { b[p++] = 0xcc; b[p++] = n } else if (n < 0x10000) { b[p++] = 0xcd; b[p++] = n >> 8; b[p++] = n & 0xff } else { b[p++] = 0xce; b[p++] = n >>> 24; b[p++] = (n >> 16) & 0xff; b[p++] = (n >> 8) & 0xff; b[p++] = n & 0xff }
      return p
    }
    if (n >> 0 === n) {
      if (n >= -0x20) b[p++] = 0x100 + n
      else if (n >= -0x80) { b[p++] = 0xd0; b[p++] = n + 0x100 } else if (n >= -0x8000) { b[p++] = 0xd1; b[p++] = (n >> 8) & 0xff; b[p++] = n & 0xff } else { b[p++] = 0xd2; b[p++] = (n >>> 24) & 0xff; b[p++] = (n >> 16) & 0xff; b[p++] = (n >> 8) & 0xff; b[p++] = n & 0xff }
      return p
    }
    b[p++] = 0xcb
    scratch.setFloat64(0, n)
    for (let i = 0; i < 8; i++) b[p + i] = scratch.getUint8(i)
    return p + 8
  },
  readNumber (bytes, p, end) {
    if (p >= end) return -1
    const t = bytes[p++] as number
    if (t < 0x80) { HELPERS.value = t; return p }
    if (t >= 0xe0) { HELPERS.value = t - 0x100; return p }
    const w = t === 0xcc || t === 0xd0 ? 1 : t === 0xcd || t === 0xd1 ? 2 : t === 0xce || t === 0xd2 ? 4 : t === 0xcb ? 8 : 0
    if (w === 0 || p + w > end) return -1
    const b0 = bytes[p] as number
    switch (t) {
      case 0xcc: HELPERS.value = b0; break
      case 0xd0: HELPERS.value = b0 > 0x7f ? b0 - 0x100 : b0; break
      case 0xcd: HELPERS.value = b0 << 8 | (bytes[p + 1] as number); break
      case 0xd1: HELPERS.value = ((b0 << 8 | (bytes[p + 1] as number)) << 16) >> 16; break
      case 0xce: HELPERS.value = b0 * 0x1000000 + ((bytes[p + 1] as number) << 16 | (bytes[p + 2] as number) << 8 | (bytes[p + 3] as number)); break
      case 0xd2: HELPERS.value = b0 << 24 | (bytes[p + 1] as number) << 16 | (bytes[p + 2] as number) << 8 | (bytes[p + 3] as number); break
      default:
        for (let i = 0; i < 8; i++) scratch.setUint8(i, bytes[p + i] as number)
        HELPERS.value = scratch.getFloat64(0)
    }
    return p + w
  },
  readString,
  readBoolean (bytes, p, end) {
    if (p >= end) return -1
    const t = bytes[p]
    if (t !== 0xc2 && t !== 0xc3) return -1
    HELPERS.value = t === 0xc3
    return p + 1
  },
  readNull (bytes, p, end) {
    if (p >= end || bytes[p] !== 0xc0) return -1
    HELPERS.value = null
    return p + 1
  },
  readValue (bytes, p, end) {
    if (p >= end) return -1
    const t = bytes[p] as number
    if ((t & 0xe0) === 0xa0 || t === 0xd9 || t === 0xda || t === 0xdb) return readString(bytes, p, end)
    if (t === 0xc2 || t === 0xc3) return HELPERS.readBoolean(bytes, p, end)
    if (t === 0xc0) return HELPERS.readNull(bytes, p, end)
    return HELPERS.readNumber(bytes, p, end)
  }
}

/** An ASCII string (fixstr, str 8/16/32) at `p` into HELPERS.value: the position after it, or -1. Recent short ones come from a cache, as msgpackr's keys do. */
export function readString (bytes: Uint8Array, p: number, end: number): number {
  if (p >= end) return -1
  const t = bytes[p++] as number
  let n: number
  if ((t & 0xe0) === 0xa0) n = t & 0x1f
  else if (t === 0xd9 && p < end) n = bytes[p++] as number
  else if (t === 0xda && p + 2 <= end) { n = (bytes[p] as number) << 8 | (bytes[p + 1] as number); p += 2 } else if (t === 0xdb && p + 4 <= end) { n = (bytes[p] as number) * 0x1000000 + ((bytes[p + 1] as number) << 16 | (bytes[p + 2] as number) << 8 | (bytes[p + 3] as number)); p += 4 } else return -1
  if (p + n > end) return -1
  const s = strings.read(bytes, p, n)
  if (s === null) return -1
  HELPERS.value = s
  return p + n
}
