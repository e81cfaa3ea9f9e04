const CRLF = 0x0a0d

/**
 * One buffer holding a forwarded head — the received lines (`base`, without the empty line that
 * ends the head), then the router's own lines, then the empty line — and, when given, the body
 * bytes that arrived with it: one write, one syscall, no string handed to the socket.
 */
export function joinHead (base: Buffer, fixed: Buffer | null, lines: string, body: Buffer | null = null): Buffer {
  const fixedLength = fixed === null ? 0 : fixed.byteLength
  const bodyLength = body === null ? 0 : body.byteLength
  const out = Buffer.allocUnsafe(base.byteLength + fixedLength + lines.length + 2 + bodyLength)
  let pos = base.copy(out, 0)
  if (fixed !== null) pos += fixed.copy(out, pos)
  if (lines.length > 0) pos += out.write(lines, pos, 'latin1')
  out.writeUInt16LE(CRLF, pos)
  pos += 2
  if (body !== null) body.copy(out, pos)
  return out
}

/** Body bytes up to this size that came with a response head are copied into the head's write. */
export const JOIN_BODY_MAX = 16 * 1024
