import { LOWER, latin1 } from './bytes.js'

/**
 * Strings decoded from bytes, kept for the next time the same bytes come: making a string from a
 * Buffer is a native call that costs more than hashing and comparing a few dozen bytes, and hosts
 * and field names repeat from one request to the next. A direct-mapped table keyed by a hash of
 * the bytes; an entry is verified byte by byte before use, so a collision only costs a miss, and a
 * new string simply replaces the one in its slot (bounded, no eviction bookkeeping).
 *
 * For ASCII input: a lowercasing cache hashes and compares ASCII-lowercased bytes.
 */
export class StringCache {
  private readonly slots: Array<string | undefined>
  private readonly mask: number

  /** `size` slots, a power of two; strings longer than `maxLength` are decoded and not kept. */
  constructor (size: number, private readonly maxLength: number, private readonly lower: boolean) {
    if ((size & (size - 1)) !== 0) throw new RangeError('StringCache size must be a power of two')
    this.slots = new Array<string | undefined>(size).fill(undefined)
    this.mask = size - 1
  }

  /** Pre-fills the cache (strings already lowercase when the cache lowercases). */
  seed (strings: readonly string[]): this {
    for (const s of strings) {
      let h = 0
      for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0
      this.slots[slot(h, this.mask)] ??= s
    }
    return this
  }

  /** buf[start, end) as a string (ASCII-lowercased if this cache lowercases). */
  get (buf: Buffer, start: number, end: number): string {
    if (end - start > this.maxLength) return this.decode(buf, start, end)
    let h = 0
    const lower = LOWER
    if (this.lower) for (let i = start; i < end; i++) h = (Math.imul(h, 31) + lower[buf[i]!]!) | 0
    else for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]!) | 0
    return this.lookup(buf, start, end, h)
  }

  /** As get, for a caller that already hashed the bytes as get does: h = h * 31 + byte (lowercased). */
  lookup (buf: Buffer, start: number, end: number, hash: number): string {
    const n = end - start
    const at = slot(hash, this.mask)
    const known = this.slots[at]
    if (known !== undefined && known.length === n) {
      let i = 0
      const lower = LOWER
      if (this.lower) while (i < n && lower[buf[start + i]!] === known.charCodeAt(i)) i++
      else while (i < n && buf[start + i] === known.charCodeAt(i)) i++
      if (i === n) return known
    }
    const s = this.decode(buf, start, end)
    if (n <= this.maxLength) this.slots[at] = s
    return s
  }

  private decode (buf: Buffer, start: number, end: number): string {
    const s = latin1(buf, start, end)
    return this.lower ? s.toLowerCase() : s
  }
}

function slot (hash: number, mask: number): number {
  return (hash ^ (hash >>> 15)) & mask
}
