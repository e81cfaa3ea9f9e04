import { COMMA, HTAB, LOWER, SP, TCHAR, latin1 } from './bytes.js'

// Parsers of the values of the fields that decide framing and connection handling, straight from
// the bytes (no string for the common cases).

/** Content-Length = 1*DIGIT (RFC 9110 §8.6), at most Number.MAX_SAFE_INTEGER; -1 if malformed. */
export function parseContentLength (buf: Buffer, start: number, end: number): number {
  if (start === end || end - start > 16) return -1
  let n = 0
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : -1
}

export const CONN_CLOSE = 1
export const CONN_KEEP_ALIVE = 2
export const CONN_UPGRADE = 4
/** Returned by scanConnection for a value that is not a list of tokens. */
export const CONN_INVALID = -1

/**
 * Reads a Connection value (#token, RFC 9110 §7.6.1; empty list elements allowed): returns the
 * CONN_* flags it names, or CONN_INVALID, and appends every option, lowercased, to `options`.
 */
export function scanConnection (buf: Buffer, start: number, end: number, options: string[]): number {
  let flags = 0
  const tchar = TCHAR
  let i = start
  while (i < end) {
    let b = buf[i]!
    if (b === COMMA || b === SP || b === HTAB) { i++; continue }
    const s = i
    while (i < end && tchar[buf[i]!] === 1) i++
    if (i === s) return CONN_INVALID
    const e = i
    while (i < end && ((b = buf[i]!) === SP || b === HTAB)) i++
    if (i < end && buf[i] !== COMMA) return CONN_INVALID
    const option = connectionOption(buf, s, e)
    if (option === 'close') flags |= CONN_CLOSE
    else if (option === 'keep-alive') flags |= CONN_KEEP_ALIVE
    else if (option === 'upgrade') flags |= CONN_UPGRADE
    options.push(option)
  }
  return flags
}

function connectionOption (buf: Buffer, s: number, e: number): string {
  const n = e - s
  if (n === 5 && lowerIs(buf, s, 'close')) return 'close'
  if (n === 10 && lowerIs(buf, s, 'keep-alive')) return 'keep-alive'
  if (n === 7 && lowerIs(buf, s, 'upgrade')) return 'upgrade'
  return latin1(buf, s, e).toLowerCase()
}

function lowerIs (buf: Buffer, s: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (LOWER[buf[s + k]!] !== word.charCodeAt(k)) return false
  return true
}

/**
 * Splits a Transfer-Encoding value into lowercased codings (parameters after ';' kept with their
 * coding, whitespace removed around them); null if any element is empty or not a token.
 */
export function transferCodings (value: string): string[] | null {
  const out: string[] = []
  for (const raw of value.split(',')) {
    const item = trimOws(raw).toLowerCase()
    const semi = item.indexOf(';')
    const coding = semi === -1 ? item : trimOws(item.slice(0, semi))
    if (!isToken(coding)) return null
    out.push(coding)
  }
  return out
}

/** s without leading and trailing SP and HTAB (String#trim would drop NBSP and others too). */
function trimOws (s: string): string {
  let a = 0
  let b = s.length
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === HTAB)) a++
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === HTAB)) b--
  return s.slice(a, b)
}

export function isToken (s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || TCHAR[c] !== 1) return false
  }
  return true
}
