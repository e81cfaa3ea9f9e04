import { MalformedFrameError, UnsupportedVersionError } from '../errors/errors.js'
import type { Codec } from './codec.js'

/** Version of the envelope layout and system message set. */
export const PROTOCOL_VERSION = 1

/** Message types every host understands, outside any actor's protocol. */
export const SYS_REPLY = 'sys.reply'
export const SYS_ERROR = 'sys.error'

/**
 * What travels between hosts for every actor message. The sending host is not in the
 * envelope: it is the authenticated peer of the connection the frame arrived on.
 */
export interface Envelope {
  /** Protocol version ({@link PROTOCOL_VERSION}). */
  v: number
  /** Message type, e.g. `machine.start`, or `sys.reply` / `sys.error`. */
  type: string
  /** Sender-chosen id, unique per sending host for the life of its process. */
  id: number
  /** Path of the sending actor on the sending host, or '' for a non-actor sender. */
  from: string
  /** Path of the target actor on the receiving host. */
  to: string
  /** Where the answer goes (a path on the sending host); present only when a reply is wanted. */
  replyTo?: string
  /** For `sys.reply` and `sys.error`: the id of the message answered. */
  re?: number
  body: unknown
}

export function encodeEnvelope (codec: Codec, env: Envelope): Buffer {
  return codec.encode([env.v, env.type, env.id, env.from, env.to, env.replyTo ?? null, env.re ?? null, env.body])
}

/**
 * Decodes and checks the envelope's shape (not the body: that is the target's schema's job).
 * Throws {@link MalformedFrameError} or {@link UnsupportedVersionError}; when the id could be
 * read it is attached as `details.id` so the error can still be answered.
 */
export function decodeEnvelope (codec: Codec, bytes: Uint8Array): Envelope {
  const raw = codec.decode(bytes)
  if (!Array.isArray(raw) || raw.length !== 8) {
    throw new MalformedFrameError('frame is not an envelope (expected an array of 8)')
  }
  const [v, type, id, from, to, replyTo, re, body] = raw as unknown[]
  const knownId = typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined
  const details = knownId === undefined ? undefined : { id: knownId }
  if (typeof v !== 'number') throw new MalformedFrameError('envelope has no version', details)
  if (v !== PROTOCOL_VERSION) throw new UnsupportedVersionError(`envelope version ${v} is not supported (this host speaks ${PROTOCOL_VERSION})`, details)
  if (knownId === undefined) throw new MalformedFrameError('envelope id must be a safe integer')
  if (typeof type !== 'string' || type.length === 0 || type.length > 128) throw new MalformedFrameError('envelope type must be a non-empty string', details)
  if (typeof from !== 'string' || from.length > 1024) throw new MalformedFrameError('envelope from must be a string', details)
  if (typeof to !== 'string' || to.length > 1024) throw new MalformedFrameError('envelope to must be a string', details)
  if (replyTo !== null && (typeof replyTo !== 'string' || replyTo.length > 1024)) throw new MalformedFrameError('envelope replyTo must be a string', details)
  if (re !== null && !(typeof re === 'number' && Number.isSafeInteger(re))) throw new MalformedFrameError('envelope re must be a safe integer', details)
  const env: Envelope = { v, type, id: knownId, from, to, body }
  if (replyTo !== null) env.replyTo = replyTo as string
  if (re !== null) env.re = re as number
  return env
}
