// Byte classes of RFC 9110/9112 as 256-entry tables: one indexed load per byte in the scanners.

export const CR = 13
export const LF = 10
export const SP = 32
export const HTAB = 9
export const COLON = 58
export const SEMI = 59
export const COMMA = 44
export const EQUALS = 61
export const DQUOTE = 34
export const BACKSLASH = 92

function table (pred: (b: number) => boolean): Uint8Array {
  const t = new Uint8Array(256)
  for (let b = 0; b < 256; b++) t[b] = pred(b) ? 1 : 0
  return t
}

const isAlpha = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39

/** tchar (RFC 9110 §5.6.2): the bytes of a token — method, field name, coding, chunk-ext name. */
export const TCHAR = table(b => isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)))

/** field-content bytes and OWS: HTAB, SP, VCHAR, obs-text. Excludes every other CTL and DEL. */
export const FIELD_BYTE = table(b => b === HTAB || (b >= 0x20 && b <= 0x7e) || b >= 0x80)

/** request-target bytes: VCHAR only (no CTL, SP, DEL or non-ASCII). */
export const TARGET_BYTE = table(b => b >= 0x21 && b <= 0x7e)

/** reg-name bytes of a host (RFC 3986): unreserved / sub-delims / '%' (pct-encoded, checked apart). */
export const REG_NAME_BYTE = table(b => isAlpha(b) || isDigit(b) || "-._~!$&'()*+,;=%".includes(String.fromCharCode(b)))

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, %x21, %x23-5B, %x5D-7E, obs-text. */
export const QDTEXT = table(b => b === HTAB || b === SP || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80)

/** Byte → its ASCII lowercase (identity outside A–Z). */
export const LOWER = new Uint8Array(256).map((_, b) => b >= 0x41 && b <= 0x5a ? b + 0x20 : b)

/** tchar → its ASCII lowercase; 0 for bytes that are not tchar. One load per field-name byte. */
export const NAME_LOWER = new Uint8Array(256).map((_, b) => TCHAR[b] === 1 ? LOWER[b]! : 0)

/** Hex digit value, or 0xff. */
export const HEX = new Uint8Array(256).map((_, b) =>
  isDigit(b) ? b - 0x30 : (b >= 0x41 && b <= 0x46) ? b - 0x37 : (b >= 0x61 && b <= 0x66) ? b - 0x57 : 0xff)

// Node's Buffer has long had latin1Slice (Buffer#toString calls it); @types/node leaves it out. It
// skips toString's argument handling, which is much of the cost for the short slices of a head.
interface LatinBuffer extends Buffer { latin1Slice?: (start: number, end: number) => string }
const hasLatin1Slice = typeof (Buffer.prototype as LatinBuffer).latin1Slice === 'function'

/** Latin1 text of buf[start, end). */
export const latin1: (buf: Buffer, start: number, end: number) => string = hasLatin1Slice
  ? (buf, start, end) => (buf as LatinBuffer).latin1Slice!(start, end)
  : (buf, start, end) => buf.toString('latin1', start, end)

/** Does buf[start, end) equal `lower` ignoring ASCII case? (`lower` is lowercase ASCII.) */
export function equalsLower (buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false
  for (let i = 0; i < lower.length; i++) {
    if (LOWER[buf[start + i]!] !== lower.charCodeAt(i)) return false
  }
  return true
}
