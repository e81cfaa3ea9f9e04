import { CR, LF } from './bytes.js'

/** Empty lines (CRLF) accepted before a request line (RFC 9112 §2.2: SHOULD ignore at least one). */
export const MAX_LEADING_EMPTY_LINES = 2

/**
 * Finds where a head being received ends, incrementally: `from` is how many bytes of `buf` an
 * earlier call already scanned (0 the first time, then the previous `buf.length`), so each byte
 * is looked at once however the head is split across reads.
 *
 * Returns -1 while the head can't be complete yet. Otherwise an index at which the parser can
 * decide: just past the CRLFCRLF that ends the head (leading empty lines — CRLFs before the start
 * line — are not taken for it), or just past a bare LF, which makes the head malformed (the
 * parser then reports it at once instead of the client waiting for a timeout). Callers wait while
 * this is -1 and the buffer is under the head limit, then call the parser, whose result decides.
 *
 * Typical use: parse the first read at once (a whole head usually arrives in one read, and
 * garbage is refused without waiting); while the parser says 'incomplete', call this on each
 * further read and parse again only when it answers or the buffer reaches the limit — calling the
 * parser on every read of a head trickling in byte by byte would rescan it each time.
 */
export function findHeadEnd (buf: Buffer, from: number): number {
  const len = buf.length
  let start = 0
  // Leading empty lines (RFC 9112 §2.2): their CRLFs must not count as the end of the head. One
  // more than allowed is enough for the parser to refuse, and bounds this loop.
  while (start + 1 < len && buf[start] === CR && buf[start + 1] === LF) {
    start += 2
    if (start > 2 * MAX_LEADING_EMPTY_LINES) return start
  }
  let i = from > start ? from : start
  for (;;) {
    i = buf.indexOf(LF, i)
    if (i === -1) return -1
    if (i === 0 || buf[i - 1] !== CR) return i + 1
    if (buf[i - 2] === LF && buf[i - 3] === CR) return i + 1
    i++
  }
}
