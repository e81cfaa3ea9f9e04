import type { RequestHead, ResponseHead } from './http/head-types.js'
import { rewriteRequestHead, rewriteResponseHead } from './http/rewrite-head.js'

/**
 * A head as it is forwarded: `base` is the received start line and header lines (or, when some
 * had to go, a copy without them) without the empty line that ends the head; the router's own
 * lines and that empty line are written after it, in the same writev. In the common case nothing
 * is removed and the received bytes go out as they came, uncopied.
 */
export interface ForwardHead {
  base: Buffer
  /** Whether any received header was dropped. */
  dropped: boolean
}

/** Whether any header of `head` is to be dropped. */
function anyDropped (head: RequestHead | ResponseHead, drop: (name: string) => boolean): boolean {
  const names = head.headers.names
  for (let i = 0; i < names.length; i++) if (drop(names[i] as string)) return true
  return false
}

export function forwardRequestHead (raw: Buffer, head: RequestHead, drop: (name: string) => boolean): ForwardHead {
  if (!anyDropped(head, drop)) return { base: raw.subarray(0, raw.byteLength - 2), dropped: false }
  const copy = rewriteRequestHead(raw, head, { remove: drop, add: '' })
  return { base: copy.subarray(0, copy.byteLength - 2), dropped: true }
}

export function forwardResponseHead (raw: Buffer, head: ResponseHead, drop: (name: string) => boolean): ForwardHead {
  if (!anyDropped(head, drop)) return { base: raw.subarray(0, raw.byteLength - 2), dropped: false }
  const copy = rewriteResponseHead(raw, head, { remove: drop, add: '' })
  return { base: copy.subarray(0, copy.byteLength - 2), dropped: true }
}
