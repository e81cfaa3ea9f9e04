import type { HeaderList, RequestHead, ResponseHead } from './head-types.js'
import { ParsedHeaders } from './header-fields.js'

/** How a forwarded head differs from the received one. */
export interface HeadEdit {
  /** Called once per received header field with its lowercased name: true drops that line. */
  remove: (lowercasedName: string) => boolean
  /**
   * Pre-serialised lines appended after the kept ones, each 'Name: value\r\n' (latin1); '' for
   * none. Only its ending is checked: the caller builds it from validated values.
   */
  add: string
  /** Replaces the start line (request line or status line), given without its CRLF (refused if it has CR or LF). */
  requestLine?: string
}

/** The head to forward for a request: its raw lines minus the removed ones, plus `edit.add`. */
export function rewriteRequestHead (buf: Buffer, head: RequestHead, edit: HeadEdit): Buffer {
  return rewrite(buf, head.startLineStart, head.startLineEnd, head.headers, edit)
}

/** The head to forward for a response; see rewriteRequestHead. */
export function rewriteResponseHead (buf: Buffer, head: ResponseHead, edit: HeadEdit): Buffer {
  return rewrite(buf, head.startLineStart, head.startLineEnd, head.headers, edit)
}

let keep = new Uint8Array(128)

function rewrite (buf: Buffer, lineStart: number, lineEnd: number, headers: HeaderList, edit: HeadEdit): Buffer {
  const names = headers.names
  const n = names.length
  let starts: number[]
  let ends: number[]
  let stride: number
  if (headers instanceof ParsedHeaders) {
    starts = headers.offsets
    ends = headers.offsets
    stride = 4
  } else {
    starts = headers.lineStart
    ends = headers.lineEnd
    stride = 1
  }
  const endAt = stride === 4 ? 3 : 0
  const add = edit.add
  if (add.length > 0 && (add.charCodeAt(add.length - 2) !== 13 || add.charCodeAt(add.length - 1) !== 10)) {
    throw new TypeError('HeadEdit.add must be whole lines, each ending in CRLF')
  }
  if (keep.length < n) keep = new Uint8Array(n * 2)
  const first = edit.requestLine
  if (first !== undefined && (first.indexOf('\r') !== -1 || first.indexOf('\n') !== -1)) {
    throw new TypeError('HeadEdit.requestLine must be one line, without CR or LF')
  }
  let total = (first === undefined ? lineEnd - lineStart : first.length + 2) + add.length + 2
  for (let i = 0; i < n; i++) {
    const k = edit.remove(names[i]!) ? 0 : 1
    keep[i] = k
    if (k === 1) total += ends[i * stride + endAt]! - starts[i * stride]!
  }
  const out = Buffer.allocUnsafe(total)
  let pos: number
  if (first === undefined) {
    pos = buf.copy(out, 0, lineStart, lineEnd)
  } else {
    pos = out.write(first, 0, 'latin1')
    out[pos++] = 13
    out[pos++] = 10
  }
  // Consecutive kept lines are contiguous in buf: copy each run at once.
  let i = 0
  while (i < n) {
    if (keep[i] === 0) { i++; continue }
    const runStart = starts[i * stride]!
    let j = i
    while (j + 1 < n && keep[j + 1] === 1) j++
    pos += buf.copy(out, pos, runStart, ends[j * stride + endAt]!)
    i = j + 1
  }
  if (add.length > 0) pos += out.write(add, pos, 'latin1')
  out[pos++] = 13
  out[pos++] = 10
  return out
}

const ALWAYS = ['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade']
// Connection may name any field as hop-by-hop; these frame or route the message, whose body
// bytes are forwarded as received, so dropping them would desynchronise the next hop from us.
const PROTECTED = new Set(['content-length', 'transfer-encoding', 'host'])

/**
 * Names of the hop-by-hop fields of a head (RFC 9110 §7.6.1), which a proxy must not forward:
 * connection, keep-alive, proxy-connection, te, upgrade — kept when upgrading, so the caller
 * forwards Upgrade and adds its own `Connection: upgrade` — and every field Connection names,
 * except content-length, transfer-encoding and host (the body is forwarded unchanged, so its
 * framing fields stay; a Connection that names them must not make us strip them). Neither
 * transfer-encoding nor trailer is in the set: the chunked body and its trailer section are
 * forwarded as received, so the fields describing them go along (RFC 9110 does not count
 * Trailer as hop-by-hop).
 */
export function hopByHop (head: RequestHead | ResponseHead): Set<string> {
  const set = new Set(ALWAYS)
  const upgrading = head.upgrade !== null
  if (upgrading) set.delete('upgrade')
  for (const option of head.connectionOptions) {
    if (PROTECTED.has(option) || option === 'close' || (upgrading && option === 'upgrade')) continue
    set.add(option)
  }
  return set
}

const STANDARD_OPTIONS = new Set(['close', 'keep-alive', 'upgrade'])
const dropAlways = (name: string): boolean => name === 'connection' || name === 'keep-alive' || name === 'proxy-connection' || name === 'te' || name === 'upgrade'
const dropAlwaysButUpgrade = (name: string): boolean => name !== 'upgrade' && dropAlways(name)

/**
 * A HeadEdit.remove predicate for the hop-by-hop fields of `head` (as hopByHop), without building
 * a Set in the common case where Connection names only close, keep-alive or upgrade.
 */
export function hopByHopRemover (head: RequestHead | ResponseHead): (lowercasedName: string) => boolean {
  let plain = true
  for (const option of head.connectionOptions) if (!STANDARD_OPTIONS.has(option)) plain = false
  if (!plain) {
    const set = hopByHop(head)
    return name => set.has(name)
  }
  return head.upgrade !== null ? dropAlwaysButUpgrade : dropAlways
}
