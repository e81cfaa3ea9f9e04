/**
 * Recently read short ASCII strings, kept so that a stream of the same values (paths, type names,
 * ids) decodes to the same strings instead of making a new one each time. A string sits in a
 * slot picked from its length and three of its bytes: a hit costs one comparison and makes
 * nothing. Used by the compact envelope's paths and the flat bodies' strings.
 */
export interface RecentStrings {
  /** `bytes[at, at + len)` as a string when all of it is ASCII (from the cache when it is there), else null. */
  read: (bytes: Uint8Array, at: number, len: number) => string | null
}

/** A cache of `slots` (a power of two) strings of at most `maxBytes` each; longer ASCII strings are read, not kept. */
export function createRecentStrings (slots: number, maxBytes: number): RecentStrings {
  const kept = new Array<string>(slots).fill('')
  const mask = slots - 1
  return {
    read (bytes, at, len) {
      if (len === 0) return ''
      const cacheable = len <= maxBytes
      const slot = cacheable ? (len * 7 + (bytes[at + len - 1] as number) * 31 + (bytes[at + (len >> 1)] as number) * 3 + (bytes[at] as number)) & mask : 0
      if (cacheable) {
        const hit = kept[slot] as string
        if (hit.length === len) {
          let i = 0
          while (i < len && hit.charCodeAt(i) === bytes[at + i]) i++
          if (i === len) return hit
        }
      }
      for (let i = at; i < at + len; i++) if ((bytes[i] as number) > 0x7f) return null
      const s = Buffer.from(bytes.buffer, bytes.byteOffset + at, len).toString('latin1')
      if (cacheable) kept[slot] = s
      return s
    }
  }
}
