import { CR, LF } from './bytes.js'

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f]

/** Version ends the request line: the 10 bytes `HTTP/d.d` CRLF. */
export const VERSION_AT_END = true
/** Version starts the status line: the 9 bytes `HTTP/d.d` SP. */
export const VERSION_AT_START = false

/**
 * Reads HTTP-version (`HTTP/` DIGIT `.` DIGIT, RFC 9112 §2.3, case-sensitive) at `p`, followed by
 * CRLF (end of a request line) or SP (status line). Returns 1 for HTTP/1.1, 0 for HTTP/1.0, -1
 * if more bytes are needed, -2 if malformed, -3 for a well-formed other version.
 */
export function scanVersion (buf: Buffer, p: number, len: number, atEnd: boolean = VERSION_AT_END): 0 | 1 | -1 | -2 | -3 {
  const n = atEnd ? 10 : 9
  // The common case in straight-line code; anything else takes the byte-by-byte path below.
  if (p + n <= len && buf[p] === 0x48 && buf[p + 1] === 0x54 && buf[p + 2] === 0x54 && buf[p + 3] === 0x50 &&
    buf[p + 4] === 0x2f && buf[p + 5] === 0x31 && buf[p + 6] === 0x2e &&
    (atEnd ? buf[p + 8] === CR && buf[p + 9] === LF : buf[p + 8] === 0x20)) {
    const minor = buf[p + 7]
    if (minor === 0x31) return 1
    if (minor === 0x30) return 0
  }
  for (let k = 0; k < n; k++) {
    if (p + k >= len) return -1
    const b = buf[p + k]!
    let ok: boolean
    if (k < 5) ok = b === HTTP_SLASH[k]
    else if (k === 5 || k === 7) ok = b >= 0x30 && b <= 0x39
    else if (k === 6) ok = b === 0x2e
    else if (k === 8) ok = atEnd ? b === CR : b === 0x20
    else ok = b === LF
    if (!ok) return -2
  }
  if (buf[p + 5] !== 0x31) return -3
  const minor = buf[p + 7]
  return minor === 0x31 ? 1 : minor === 0x30 ? 0 : -3
}
