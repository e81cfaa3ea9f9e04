import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { Codec } from '../codec/codec.js'

/**
 * The first bytes of a backhaul connection (edge router → the router of the host running the
 * machine): a magic, a 2-byte length and a msgpack header naming the machine and the client,
 * authenticated with the cluster's backhaul key. The answer is one status byte; after OK the
 * connection carries the client's bytes to the machine and back, untouched.
 */
export const BACKHAUL_MAGIC = Buffer.from('RBH1', 'latin1')
export const MAX_BACKHAUL_HEADER_BYTES = 1024
/** A header older or newer than this (host clocks are NTP-synced) is refused. */
export const BACKHAUL_CLOCK_SKEW_MS = 120_000

export const BackhaulStatus = {
  OK: 0,
  AUTH: 1,
  NO_MACHINE: 2,
  CONNECT_FAILED: 3,
  MALFORMED: 4,
  AT_LIMIT: 5
} as const
export type BackhaulStatusCode = typeof BackhaulStatus[keyof typeof BackhaulStatus]

export function statusName (code: number): string {
  return Object.entries(BackhaulStatus).find(([, v]) => v === code)?.[0].toLowerCase().replace('_', '-') ?? `status-${code}`
}

export interface BackhaulHeader {
  v: 1
  /** Sending host id. */
  from: string
  /** Sender's clock, ms. */
  ts: number
  nonce: Buffer
  app: string
  machine: string
  /** The guest port to reach (the service's internal port). */
  port: number
  /** The client as the edge saw it (for logs; the PROXY header, if any, is sent by the edge). */
  client: string
  /**
   * `http`: the connection carries HTTP/1.1 requests (already decorated by the edge), one at a
   * time; the receiving router admits each against the machine's hard limit and may reuse its own
   * connections to the machine. `tcp` (or absent): bytes are piped to one connection.
   */
  mode?: 'http' | 'tcp'
  mac: Buffer
}

const HeaderCheck = TypeCompiler.Compile(Type.Object({
  v: Type.Literal(1),
  from: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  ts: Type.Number(),
  nonce: Type.Uint8Array({ minByteLength: 16, maxByteLength: 16 }),
  app: Type.String({ maxLength: 64 }),
  machine: Type.String({ pattern: '^[0-9a-f]{14}$' }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  client: Type.String({ maxLength: 64 }),
  mode: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('tcp')])),
  mac: Type.Uint8Array({ minByteLength: 32, maxByteLength: 32 })
}, { additionalProperties: false }))

function macOf (key: Buffer, h: Omit<BackhaulHeader, 'mac'>): Buffer {
  return createHmac('sha256', key)
    .update(`roost/backhaul/v1\0${h.from}\0${h.ts}\0${h.app}\0${h.machine}\0${h.port}\0${h.client}\0${h.mode ?? 'tcp'}\0`)
    .update(h.nonce)
    .digest()
}

/** The framed, authenticated header for one backhaul connection. */
export function encodeBackhaulHeader (codec: Codec, key: Buffer, h: Omit<BackhaulHeader, 'v' | 'mac' | 'nonce' | 'ts'> & { ts: number }): Buffer {
  const base = { v: 1 as const, ...h, nonce: randomBytes(16) }
  const body = codec.encode({ ...base, mac: macOf(key, base) })
  const out = Buffer.allocUnsafe(6 + body.byteLength)
  BACKHAUL_MAGIC.copy(out, 0)
  out.writeUInt16BE(body.byteLength, 4)
  body.copy(out, 6)
  return out
}

export type HeaderRead =
  | { kind: 'incomplete' }
  | { kind: 'bad', reason: string }
  | { kind: 'ok', header: BackhaulHeader, consumed: number }

/** Reads (without trusting) a header from the first bytes of a connection. Bounded before decoding. */
export function readBackhaulHeader (codec: Codec, buf: Buffer): HeaderRead {
  if (buf.byteLength < 6) return buf.subarray(0, Math.min(4, buf.byteLength)).equals(BACKHAUL_MAGIC.subarray(0, Math.min(4, buf.byteLength))) ? { kind: 'incomplete' } : { kind: 'bad', reason: 'not a backhaul connection' }
  if (!buf.subarray(0, 4).equals(BACKHAUL_MAGIC)) return { kind: 'bad', reason: 'not a backhaul connection' }
  const len = buf.readUInt16BE(4)
  if (len > MAX_BACKHAUL_HEADER_BYTES) return { kind: 'bad', reason: `header of ${len} bytes is over the limit` }
  if (buf.byteLength < 6 + len) return { kind: 'incomplete' }
  let v: unknown
  try {
    v = codec.decode(buf.subarray(6, 6 + len))
  } catch {
    return { kind: 'bad', reason: 'header is not msgpack' }
  }
  if (v !== null && typeof v === 'object') {
    for (const k of ['nonce', 'mac'] as const) {
      const f = (v as Record<string, unknown>)[k]
      if (f instanceof Uint8Array && !(f instanceof Buffer)) (v as Record<string, unknown>)[k] = Buffer.from(f.buffer, f.byteOffset, f.byteLength)
    }
  }
  if (!HeaderCheck.Check(v)) return { kind: 'bad', reason: 'malformed header' }
  return { kind: 'ok', header: v as BackhaulHeader, consumed: 6 + len }
}

/**
 * Whether a header is authentic and fresh: its MAC under the cluster key, its clock within the
 * allowed skew, and a nonce not seen before (so a captured header cannot be replayed).
 */
export function verifyBackhaulHeader (key: Buffer, h: BackhaulHeader, now: number, seen: NonceCache): string | undefined {
  const { mac, ...rest } = h
  const expected = macOf(key, rest)
  if (!timingSafeEqual(expected, mac)) return 'bad mac'
  if (Math.abs(now - h.ts) > BACKHAUL_CLOCK_SKEW_MS) return `clock skew ${Math.round(now - h.ts)} ms`
  if (!seen.add(h.nonce.toString('hex'), now)) return 'replayed nonce'
  return undefined
}

/** Nonces seen within the skew window, in two rotating generations (bounded memory). */
export interface NonceCache { add: (nonce: string, now: number) => boolean }

export function createNonceCache (windowMs = 2 * BACKHAUL_CLOCK_SKEW_MS, maxEntries = 1_000_000): NonceCache {
  let current = new Set<string>()
  let previous = new Set<string>()
  let rotatedAt = 0
  return {
    add (nonce, now) {
      if (now - rotatedAt > windowMs || current.size >= maxEntries) {
        previous = current
        current = new Set()
        rotatedAt = now
      }
      if (current.has(nonce) || previous.has(nonce)) return false
      current.add(nonce)
      return true
    }
  }
}
