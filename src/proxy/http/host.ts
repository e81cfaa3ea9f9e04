import { COLON, HEX, REG_NAME_BYTE } from './bytes.js'

const LBRACKET = 0x5b
const RBRACKET = 0x5d
const PERCENT = 0x25

/**
 * Is buf[start, end) a valid Host / authority: uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986
 * §3.2.2)? uri-host is a reg-name (unreserved, sub-delims, pct-encoded) or an IPv6 literal in
 * brackets; no userinfo. Stricter than RFC 3986: the reg-name must not be empty, IPvFuture and
 * zone ids are refused, and a ':' must be followed by a port of 1–5 digits ≤ 65535. An empty
 * value (start === end) is valid: RFC 9112 §3.2 allows an empty Host.
 */
export function isValidHost (buf: Buffer, start: number, end: number): boolean {
  if (start === end) return true
  const hex = HEX
  const regName = REG_NAME_BYTE
  let i = start
  if (buf[i] === LBRACKET) {
    i++
    const s = i
    while (i < end && buf[i] !== RBRACKET) {
      const b = buf[i]!
      if (hex[b] === 0xff && b !== COLON && b !== 0x2e) return false
      i++
    }
    if (i === end || i - s < 2) return false
    i++
  } else {
    while (i < end && buf[i] !== COLON) {
      const b = buf[i]!
      if (regName[b] === 0) return false
      if (b === PERCENT) {
        if (i + 2 >= end || HEX[buf[i + 1]!] === 0xff || HEX[buf[i + 2]!] === 0xff) return false
        i += 2
      }
      i++
    }
    if (i === start) return false
  }
  if (i === end) return true
  if (buf[i] !== COLON) return false
  return isPort(buf, i + 1, end)
}

function isPort (buf: Buffer, start: number, end: number): boolean {
  if (start === end || end - start > 5) return false
  let n = 0
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30
    if (d < 0 || d > 9) return false
    n = n * 10 + d
  }
  return n <= 65535
}
