import { randomInt } from 'node:crypto'
import { FRAME_HEADER_BYTES, readFrameLength as readU32, writeFrameLength as writeU32 } from '../codec/frame.js'
import { MalformedFrameError, SessionBudgetError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { FRAME_OVERHEAD_BYTES, heldBytes, ReorderBuffer } from './reorder-buffer.js'
import type { SendFailure, SendTarget } from './transport.js'

/** First byte of a session data frame: tag, sender epoch (u32), seq (u32), lowest live seq (u32), payload. */
export const SESSION_DATA = 0xd5
/** First byte of a session ack: tag, the acked sender's epoch (u32), highest seq delivered in order (u32). */
export const SESSION_ACK = 0xa5
export const SESSION_DATA_HEADER_BYTES = 13
export const SESSION_ACK_BYTES = 9
export const DEFAULT_ACK_EVERY = 128
export const DEFAULT_ACK_DELAY_MS = 5
/**
 * Bytes (with overhead) this host may have sent to one peer and not had acknowledged; past it,
 * sends to that peer fail until it acknowledges. Sized for bursts: 200,000 small messages sent
 * as fast as possible over loopback peaked near 30 MiB unacknowledged.
 */
export const DEFAULT_MAX_UNACKED_BYTES = 64 * 1024 * 1024
/**
 * Bytes (with overhead) of frames from one peer held while they wait for a missing earlier one.
 * Honest peers reorder only across a path switch; going over drops them and resets the paths,
 * which loses nothing (they are all unacknowledged, so sent again), so this can be smaller.
 */
export const DEFAULT_MAX_REORDER_BYTES = 32 * 1024 * 1024

/** A gap filled after 32 MiB of frames arrived past it must not hand them all on in one turn of the actor loop. */
export const DEFAULT_RELEASE_BUDGET_MS = 2
/** Unacknowledged-send slots per peer kept allocated once all are settled; a larger burst's arrays are let go. */
const SEND_SLOTS_KEPT = 16 * 1024
/** Frames are cut from slabs of this size; a payload over a quarter of it gets a buffer of its own. */
const SLAB_BYTES = 256 * 1024
/** Room a slab must have left to lend for an in-place send; less, and a new slab is started. */
const SLAB_MIN_ROOM = 16 * 1024
/** Before a data frame's header in its buffer: the stream's length prefix. */
const PREFIX = FRAME_HEADER_BYTES

/**
 * What this host sent one peer and the peer has not acknowledged, as parallel arrays from the
 * oldest entry kept (`base` is its sequence number): no object or callback per payload, since
 * under a flood hundreds of thousands are in flight and would all be promoted and collected.
 * An entry is live while its frame is set; acknowledged or failed ones are null until compacted.
 */
interface SendState {
  nextSeq: number
  /** Sequence number of index 0. */
  base: number
  /** Index of the oldest entry that may be live. */
  head: number
  /** Entries in use: the arrays keep their capacity past it (emptied, they grew a fresh backing store on every burst). */
  end: number
  frames: Array<Buffer | null>
  paths: string[]
  sentAt: number[]
  fails: Array<SendFailure | undefined>
  /** The token each sender gave with its failure function. */
  tokens: number[]
  live: number
  /** Bytes of the live frames. */
  bytes: number
  /** Sends are being refused for the unacked budget (logged once per episode). */
  full: boolean
  /** The one failure function every transmission to this peer reports through (the token is the sequence number). */
  failed: SendFailure
}

interface RecvState {
  epoch: number
  expected: number
  /** Frames ahead of a gap. */
  buffer: ReorderBuffer
  sinceAck: number
  ackTimer: NodeJS.Timeout | undefined
  /** Held frames that now follow in order are being handed on, a turn budget at a time. */
  releasing: NodeJS.Immediate | undefined
}

export interface SessionInit {
  /** This process's sender epoch (random by default); a restarted host starts a new one. */
  epoch?: number
  ackEvery?: number
  ackDelayMs?: number
  /** Per peer: bytes sent and not yet acknowledged; past it, sends fail with {@link SessionBudgetError} ({@link DEFAULT_MAX_UNACKED_BYTES}). */
  maxUnackedBytes?: number
  /** Per peer: bytes held waiting for a missing frame; past it, they are dropped and the peer's paths reset ({@link DEFAULT_MAX_REORDER_BYTES}). */
  maxReorderBytes?: number
  /** How long (ms) held frames that a gap's filling puts in order are handed on before the rest wait for the next turn ({@link DEFAULT_RELEASE_BUDGET_MS}). */
  releaseBudgetMs?: number
}

/** Totals over all peers, and how often a budget was exceeded. */
export interface SessionStats {
  unackedBytes: number
  reorderBytes: number
  /** Payloads refused because their peer's unacked budget was full. */
  unackedRefusals: number
  /** Times a peer's reorder buffer went over budget and was dropped. */
  reorderOverflows: number
}

export interface SessionComponents {
  logger: Logger
  /**
   * Writes a session frame to `host` over the best path now (a failure is reported to `onFailure`
   * with `token`); returns the path's name. Every frame the session makes has its stream length
   * prefix written in the 4 bytes before it in its buffer, so a path that frames its writes can
   * send it as it is (`FrameWriter.writeFramed`).
   */
  transmit: (host: string, frame: Buffer, onFailure: SendFailure | undefined, token: number) => string
  /** A payload from `host`, `bytes[start, end)`, in the order it was sent, exactly once; read it before returning (copy what is kept). */
  deliver: (host: string, bytes: Uint8Array, start: number, end: number) => void
  badFrame: (host: string, err: Error) => void
  /**
   * Closes every path to `host`: its reorder buffer went over budget and was dropped. Everything
   * in it was unacknowledged, so `host`, seeing its paths lost, sends it all again, in order.
   */
  resetPaths: (host: string, err: SessionBudgetError) => void
}

/**
 * Ordered, exactly-once delivery of payloads between two hosts over whichever path is up
 * (the hyperswarm stream, a connection through the WireGuard tunnel). Every payload carries a
 * sequence number; the receiver delivers in order, drops duplicates and acknowledges
 * cumulatively. Payloads stay queued until acknowledged, so when a path goes away the ones sent
 * on it are sent again on another, and a payload that cannot be sent anywhere fails with a typed
 * error: a path switch loses nothing silently.
 */
export interface Session {
  readonly epoch: number
  /** `onFailure` hears, with `token`, of a payload that could not be delivered. */
  send: (host: string, payload: Uint8Array, onFailure?: SendFailure, token?: number) => void
  /**
   * Where the next payload may be written in place (as {@link Transport.sendTarget}; any host):
   * after room for the frame's length prefix and session header, in the memory the frame is kept
   * in until acknowledged. {@link Session.commit} sends it.
   */
  sendTarget: () => SendTarget
  /** Sends the payload written at the last {@link Session.sendTarget}, up to `end`, to `host`; as `send` otherwise. */
  commit: (host: string, end: number, onFailure?: SendFailure, token?: number) => void
  receive: (host: string, frame: Buffer) => void
  /** As `receive`, the frame being `bytes[start, end)`. */
  receiveRange: (host: string, bytes: Uint8Array, start: number, end: number) => void
  /** A frame from `host` was dropped below (over the size limit); `head` is its first bytes: its sequence number is used up, so later ones are not held back. */
  skipped: (host: string, head: Buffer) => void
  /** Sends again, on the best path now, everything to `host` that went out on `path` and is not acknowledged. */
  pathLost: (host: string, path: string) => number
  /** Age (ms) of the oldest unacknowledged payload sent to `host` on `path` (0: none). */
  oldestUnacked: (host: string, path: string, now: number) => number
  unacked: (host: string) => number
  /** Fails every unacknowledged payload to `host` with `err` (the host is gone); returns how many. */
  fail: (host: string, err: Error) => number
  /** An ack of what was delivered from `host`, for a probe on a path. */
  ackFrame: (host: string) => Buffer
  stats: () => SessionStats
  stop: () => void
}

export function createSession (init: SessionInit, components: SessionComponents): Session {
  const epoch = init.epoch ?? randomInt(1, 0xffffffff)
  const ackEvery = init.ackEvery ?? DEFAULT_ACK_EVERY
  const ackDelayMs = init.ackDelayMs ?? DEFAULT_ACK_DELAY_MS
  const maxUnackedBytes = init.maxUnackedBytes ?? DEFAULT_MAX_UNACKED_BYTES
  const maxReorderBytes = init.maxReorderBytes ?? DEFAULT_MAX_REORDER_BYTES
  const releaseBudgetMs = init.releaseBudgetMs ?? DEFAULT_RELEASE_BUDGET_MS
  const counters = { unackedRefusals: 0, reorderOverflows: 0 }
  const log = components.logger.child({ component: 'session' })
  const sending = new Map<string, SendState>()
  const receiving = new Map<string, RecvState>()
  // Send times only feed the (seconds-long) ack timeout: a clock read per message is not worth it.
  let now = Date.now()
  const clock = setInterval(() => { now = Date.now() }, 100)
  clock.unref()

  const sendState = (host: string): SendState => {
    let s = sending.get(host)
    if (s === undefined) {
      const state: SendState = { nextSeq: 1, base: 1, head: 0, end: 0, frames: [], paths: [], sentAt: [], fails: [], tokens: [], live: 0, bytes: 0, full: false, failed: () => {} }
      state.failed = (err, seq) => { failSeq(state, seq, err) }
      s = state
      sending.set(host, s)
    }
    return s
  }

  const compact = (s: SendState): void => {
    const frames = s.frames
    while (s.head < s.end && frames[s.head] === null) s.head++
    if (s.head === s.end) {
      s.base += s.end
      s.head = 0
      s.end = 0
      if (frames.length > SEND_SLOTS_KEPT) {
        s.frames = []
        s.paths = []
        s.sentAt = []
        s.fails = []
        s.tokens = []
      }
    } else if (s.head > 1024 && s.head * 2 > s.end) {
      const from = s.head
      const live = s.end - from
      for (let i = 0; i < live; i++) {
        frames[i] = frames[from + i] as Buffer | null
        s.paths[i] = s.paths[from + i] as string
        s.sentAt[i] = s.sentAt[from + i] as number
        s.fails[i] = s.fails[from + i]
        s.tokens[i] = s.tokens[from + i] as number
      }
      for (let i = live; i < s.end; i++) {
        frames[i] = null
        s.fails[i] = undefined
      }
      s.base += from
      s.end = live
      s.head = 0
    }
  }

  const lowOf = (s: SendState): number => {
    compact(s)
    return s.head < s.end ? s.base + s.head : s.nextSeq
  }

  /** Acknowledged or failed: no longer live, and its bytes are let go even before `compact` reaches it. */
  const finish = (s: SendState, i: number): void => {
    s.live--
    s.bytes -= (s.frames[i] as Buffer).byteLength + FRAME_OVERHEAD_BYTES
    s.frames[i] = null
    s.fails[i] = undefined
    if (s.full && s.bytes <= maxUnackedBytes / 2) s.full = false
  }

  const failSeq = (s: SendState, seq: number, err: Error): void => {
    const i = seq - s.base
    if (i < s.head || i >= s.end || s.frames[i] === null) return
    const fn = s.fails[i]
    const token = s.tokens[i] as number
    finish(s, i)
    fn?.(err, token)
  }

  const refuseSend = (host: string, s: SendState, size: number, onFailure: SendFailure | undefined, token: number): void => {
    counters.unackedRefusals++
    const err = new SessionBudgetError(`${s.bytes} bytes to ${host.slice(0, 12)} are unacknowledged; ${size} more would pass the ${maxUnackedBytes}-byte unacked budget`,
      { host, budget: 'unacked', bytes: s.bytes, limit: maxUnackedBytes })
    if (!s.full) {
      s.full = true
      log.warn({ host, code: err.code, unackedBytes: s.bytes, limit: maxUnackedBytes }, 'peer acknowledges too little: sends to it refused until it does')
    }
    onFailure?.(err, token)
  }

  const overflow = (host: string, r: RecvState, size: number): void => {
    counters.reorderOverflows++
    const { size: frames, bytes } = r.buffer
    const err = new SessionBudgetError(`${frames} frames (${bytes} bytes) from ${host.slice(0, 12)} wait for frame ${r.expected}; one of ${size} more would pass the ${maxReorderBytes}-byte reorder budget`,
      { host, budget: 'reorder', bytes, frames, limit: maxReorderBytes })
    log.warn({ host, code: err.code, reorderBytes: bytes, frames, waitingFor: r.expected }, 'reorder buffer over budget: dropped, paths to the peer reset')
    r.buffer.clear()
    components.resetPaths(host, err)
  }

  let slab = Buffer.allocUnsafe(0)
  let slabAt = 0
  const target: SendTarget = { bytes: slab, at: 0 }
  /** Makes sure the slab has `bytes` left from `slabAt`. */
  const slabRoom = (bytes: number): void => {
    if (slab.byteLength - slabAt >= bytes) return
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    slabAt = 0
  }

  const ackFrame = (host: string): Buffer => {
    const r = receiving.get(host)
    const b = Buffer.allocUnsafe(PREFIX + SESSION_ACK_BYTES)
    writeU32(b, 0, SESSION_ACK_BYTES)
    b[PREFIX] = SESSION_ACK
    b.writeUInt32BE(r?.epoch ?? 0, PREFIX + 1)
    b.writeUInt32BE(r === undefined ? 0 : r.expected - 1, PREFIX + 5)
    return b.subarray(PREFIX)
  }

  const sendAck = (host: string, r: RecvState): void => {
    if (r.ackTimer !== undefined) {
      clearTimeout(r.ackTimer)
      r.ackTimer = undefined
    }
    r.sinceAck = 0
    components.transmit(host, ackFrame(host), undefined, 0)
  }

  const scheduleAck = (host: string, r: RecvState): void => {
    if (++r.sinceAck >= ackEvery) {
      sendAck(host, r)
      return
    }
    r.ackTimer ??= setTimeout(() => { r.ackTimer = undefined; sendAck(host, r) }, ackDelayMs)
  }

  const onAck = (host: string, bytes: Uint8Array, start: number, end: number): void => {
    if (end - start !== SESSION_ACK_BYTES) throw new MalformedFrameError(`session ack of ${end - start} bytes`)
    if (readU32(bytes, start + 1) !== epoch) return
    const upTo = readU32(bytes, start + 5)
    const s = sending.get(host)
    if (s === undefined) return
    const last = Math.min(s.end, upTo - s.base + 1)
    for (let i = s.head; i < last; i++) if (s.frames[i] !== null) finish(s, i)
    compact(s)
  }

  const onData = (host: string, bytes: Uint8Array, start: number, end: number, skipped: boolean): void => {
    if (end - start < SESSION_DATA_HEADER_BYTES) throw new MalformedFrameError(`session frame of ${end - start} bytes`)
    const e = readU32(bytes, start + 1)
    const seq = readU32(bytes, start + 5)
    const low = readU32(bytes, start + 9)
    let r = receiving.get(host)
    if (r === undefined || r.epoch !== e) {
      if (r !== undefined) forget(r)
      r = { epoch: e, expected: low, buffer: new ReorderBuffer(maxReorderBytes), sinceAck: 0, ackTimer: undefined, releasing: undefined }
      receiving.set(host, r)
    }
    if (low > r.expected) {
      // Everything below low is settled at the sender (acknowledged or failed): what was held
      // behind the gap goes on now, or nothing after it would ever be delivered.
      r.expected = low
      r.buffer.dropBelow(low)
      release(host, r)
    }
    if (seq < r.expected) {
      scheduleAck(host, r)
      return
    }
    if (seq > r.expected) {
      const held = skipped ? null : Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)
      if (r.buffer.has(seq)) return
      if (!r.buffer.fits(held)) {
        overflow(host, r, heldBytes(held))
        return
      }
      r.buffer.add(seq, held)
      return
    }
    if (r.buffer.has(seq)) {
      release(host, r)
      return
    }
    if (!skipped) components.deliver(host, bytes, start + SESSION_DATA_HEADER_BYTES, end)
    r.expected++
    scheduleAck(host, r)
    release(host, r)
  }

  /** Hands on the held frames that now follow in order, for one turn budget; the rest from the next turn (nothing can overtake them: their sequence numbers are held). */
  const release = (host: string, r: RecvState): void => {
    if (r.buffer.size === 0) return
    const until = performance.now() + releaseBudgetMs
    for (;;) {
      const next = r.buffer.take(r.expected)
      if (next === undefined) return
      if (next !== null) components.deliver(host, next, SESSION_DATA_HEADER_BYTES, next.byteLength)
      r.expected++
      scheduleAck(host, r)
      if (performance.now() > until && r.buffer.has(r.expected)) {
        r.releasing ??= setImmediate(() => {
          r.releasing = undefined
          if (receiving.get(host) === r) release(host, r)
        })
        return
      }
    }
  }

  const forget = (r: RecvState): void => {
    r.buffer.clear()
    if (r.ackTimer !== undefined) clearTimeout(r.ackTimer)
    if (r.releasing !== undefined) clearImmediate(r.releasing)
    r.ackTimer = undefined
    r.releasing = undefined
  }

  /**
   * Sends the payload at `buf[at + PREFIX + header, end)` as the next data frame to `host`: writes
   * the length prefix and header before it and keeps the frame until acknowledged. False: refused
   * for the unacked budget (reported to `onFailure`), nothing kept.
   */
  const enqueue = (host: string, buf: Buffer, at: number, end: number, onFailure: SendFailure | undefined, token: number): boolean => {
    const s = sendState(host)
    const size = end - at - PREFIX + FRAME_OVERHEAD_BYTES
    // One payload always goes when nothing is in flight, however large: the frame limit below judges it.
    if (s.live > 0 && s.bytes + size > maxUnackedBytes) {
      refuseSend(host, s, size, onFailure, token)
      return false
    }
    const seq = s.nextSeq++
    writeU32(buf, at, end - at - PREFIX)
    buf[at + PREFIX] = SESSION_DATA
    writeU32(buf, at + PREFIX + 1, epoch)
    writeU32(buf, at + PREFIX + 5, seq)
    writeU32(buf, at + PREFIX + 9, s.live === 0 ? seq : lowOf(s))
    const frame = buf.subarray(at + PREFIX, end)
    const i = s.end++
    s.frames[i] = frame
    s.paths[i] = ''
    s.sentAt[i] = now
    s.fails[i] = onFailure
    s.tokens[i] = token
    s.live++
    s.bytes += size
    s.paths[i] = components.transmit(host, frame, s.failed, seq)
    return true
  }

  const receiveRange = (host: string, bytes: Uint8Array, start: number, end: number): void => {
    try {
      const tag = bytes[start]
      if (tag === SESSION_DATA) onData(host, bytes, start, end, false)
      else if (tag === SESSION_ACK) onAck(host, bytes, start, end)
      else throw new MalformedFrameError(`unknown session frame tag 0x${(tag ?? 0).toString(16)}`)
    } catch (err) {
      components.badFrame(host, err as Error)
    }
  }

  const HEAD = PREFIX + SESSION_DATA_HEADER_BYTES
  return {
    epoch,
    send (host, payload, onFailure, token = 0) {
      const n = payload.byteLength
      if (HEAD + n > SLAB_BYTES / 4) {
        const own = Buffer.allocUnsafe(HEAD + n)
        own.set(payload, HEAD)
        enqueue(host, own, 0, HEAD + n, onFailure, token)
        return
      }
      slabRoom(HEAD + n)
      slab.set(payload, slabAt + HEAD)
      if (enqueue(host, slab, slabAt, slabAt + HEAD + n, onFailure, token)) slabAt += HEAD + n
    },
    sendTarget () {
      slabRoom(SLAB_MIN_ROOM)
      target.bytes = slab
      target.at = slabAt + HEAD
      return target
    },
    commit (host, end, onFailure, token = 0) {
      if (enqueue(host, slab, slabAt, end, onFailure, token)) slabAt = end
    },
    receive (host, frame) { receiveRange(host, frame, 0, frame.byteLength) },
    receiveRange,
    skipped (host, head) {
      if (head[0] !== SESSION_DATA || head.byteLength < SESSION_DATA_HEADER_BYTES) return
      try {
        onData(host, head, 0, SESSION_DATA_HEADER_BYTES, true)
      } catch (err) {
        components.badFrame(host, err as Error)
      }
    },
    pathLost (host, path) {
      const s = sending.get(host)
      if (s === undefined) return 0
      let n = 0
      now = Date.now()
      const low = lowOf(s)
      for (let i = s.head; i < s.end; i++) {
        const frame = s.frames[i]
        if (frame === null || frame === undefined || s.paths[i] !== path) continue
        frame.writeUInt32BE(low, 9)
        s.sentAt[i] = now
        s.paths[i] = components.transmit(host, frame, s.failed, s.base + i)
        n++
      }
      if (n > 0) log.info({ host, path, resent: n }, 'path lost: unacknowledged messages sent again')
      return n
    },
    oldestUnacked (host, path, at) {
      const s = sending.get(host)
      if (s === undefined || s.live === 0) return 0
      for (let i = s.head; i < s.end; i++) {
        if (s.frames[i] !== null && s.paths[i] === path) return at - (s.sentAt[i] as number)
      }
      return 0
    },
    unacked: (host) => sending.get(host)?.live ?? 0,
    fail (host, err) {
      const s = sending.get(host)
      if (s === undefined || s.live === 0) return 0
      const failed: Array<[SendFailure | undefined, number]> = []
      for (let i = s.head; i < s.end; i++) {
        if (s.frames[i] === null) continue
        failed.push([s.fails[i], s.tokens[i] as number])
        finish(s, i)
      }
      compact(s)
      for (const [fn, token] of failed) fn?.(err, token)
      if (failed.length > 0) log.info({ host, failed: failed.length, code: (err as { code?: string }).code }, 'host gone: unacknowledged messages failed')
      return failed.length
    },
    ackFrame,
    stats () {
      let unackedBytes = 0
      let reorderBytes = 0
      for (const s of sending.values()) unackedBytes += s.bytes
      for (const r of receiving.values()) reorderBytes += r.buffer.bytes
      return { unackedBytes, reorderBytes, ...counters }
    },
    stop () {
      clearInterval(clock)
      for (const r of receiving.values()) forget(r)
      receiving.clear()
    }
  }
}
