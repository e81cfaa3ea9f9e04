import { randomInt } from 'node:crypto'
import { MalformedFrameError, SessionBudgetError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { FRAME_OVERHEAD_BYTES, heldBytes, ReorderBuffer } from './reorder-buffer.js'
import type { SendFailure } from './transport.js'

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
  /** Writes a session frame to `host` over the best path now (a failure is reported to `onFailure` with `token`); returns the path's name. */
  transmit: (host: string, frame: Buffer, onFailure: SendFailure | undefined, token: number) => string
  /** A payload from `host`, in the order it was sent, exactly once. */
  deliver: (host: string, payload: Buffer) => void
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
  receive: (host: string, frame: Buffer) => void
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

  const ackFrame = (host: string): Buffer => {
    const r = receiving.get(host)
    const b = Buffer.allocUnsafe(SESSION_ACK_BYTES)
    b[0] = SESSION_ACK
    b.writeUInt32BE(r?.epoch ?? 0, 1)
    b.writeUInt32BE(r === undefined ? 0 : r.expected - 1, 5)
    return b
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

  const onAck = (host: string, frame: Buffer): void => {
    if (frame.byteLength !== SESSION_ACK_BYTES) throw new MalformedFrameError(`session ack of ${frame.byteLength} bytes`)
    if (frame.readUInt32BE(1) !== epoch) return
    const upTo = frame.readUInt32BE(5)
    const s = sending.get(host)
    if (s === undefined) return
    const end = Math.min(s.end, upTo - s.base + 1)
    for (let i = s.head; i < end; i++) if (s.frames[i] !== null) finish(s, i)
    compact(s)
  }

  const onData = (host: string, frame: Buffer, skipped = false): void => {
    if (frame.byteLength < SESSION_DATA_HEADER_BYTES) throw new MalformedFrameError(`session frame of ${frame.byteLength} bytes`)
    const e = frame.readUInt32BE(1)
    const seq = frame.readUInt32BE(5)
    const low = frame.readUInt32BE(9)
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
      const held = skipped ? null : frame
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
    if (!skipped) components.deliver(host, frame.subarray(SESSION_DATA_HEADER_BYTES))
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
      if (next !== null) components.deliver(host, next.subarray(SESSION_DATA_HEADER_BYTES))
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

  return {
    epoch,
    send (host, payload, onFailure, token = 0) {
      const s = sendState(host)
      const size = SESSION_DATA_HEADER_BYTES + payload.byteLength + FRAME_OVERHEAD_BYTES
      // One payload always goes when nothing is in flight, however large: the frame limit below judges it.
      if (s.live > 0 && s.bytes + size > maxUnackedBytes) {
        refuseSend(host, s, size, onFailure, token)
        return
      }
      const frame = Buffer.allocUnsafe(SESSION_DATA_HEADER_BYTES + payload.byteLength)
      const seq = s.nextSeq++
      frame[0] = SESSION_DATA
      frame.writeUInt32BE(epoch, 1)
      frame.writeUInt32BE(seq, 5)
      frame.writeUInt32BE(s.live === 0 ? seq : lowOf(s), 9)
      frame.set(payload, SESSION_DATA_HEADER_BYTES)
      const i = s.end++
      s.frames[i] = frame
      s.paths[i] = ''
      s.sentAt[i] = now
      s.fails[i] = onFailure
      s.tokens[i] = token
      s.live++
      s.bytes += size
      s.paths[i] = components.transmit(host, frame, s.failed, seq)
    },
    receive (host, frame) {
      try {
        if (frame[0] === SESSION_DATA) onData(host, frame)
        else if (frame[0] === SESSION_ACK) onAck(host, frame)
        else throw new MalformedFrameError(`unknown session frame tag 0x${(frame[0] ?? 0).toString(16)}`)
      } catch (err) {
        components.badFrame(host, err as Error)
      }
    },
    skipped (host, head) {
      if (head[0] !== SESSION_DATA || head.byteLength < SESSION_DATA_HEADER_BYTES) return
      try {
        onData(host, head.subarray(0, SESSION_DATA_HEADER_BYTES), true)
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
