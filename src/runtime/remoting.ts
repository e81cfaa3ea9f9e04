import type { Codec } from '../codec/codec.js'
import { COMPACT_ENVELOPE_VERSION, COMPACT_TAG, CompactKind, createCompactEnvelopeCodec, ENVELOPE_VERSIONS, negotiateEnvelope, TEMPLATE_ENVELOPE_VERSION, type CompactEnvelope } from '../codec/compact-envelope.js'
import { decodeEnvelope, encodeEnvelope, PROTOCOL_VERSION, SYS_ERROR, SYS_REPLY, type Envelope } from '../codec/envelope.js'
import { AskTimeoutError, HostUnreachableError, MalformedFrameError, UnknownTemplateError } from '../errors/errors.js'
import { errorFromWire, isWireError, RoostError, toWireError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { PeerInfo, Transport } from '../transport/transport.js'
import type { Sender } from './actor.js'
import type { ReplyFn } from './mailbox.js'
import type { Clock } from './clock.js'
import type { MessageObserver } from './observers.js'
import { createPeerTemplates } from './peer-templates.js'
import { perHost } from './per-host.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'

export interface RemotingInit {
  hostId: string
  /**
   * Envelope versions this host speaks (default {@link ENVELOPE_VERSIONS}). With `[1]` it sends
   * and decodes exactly as hosts from before version 2 did (tests of mixed versions use it).
   */
  envelopes?: readonly number[]
}

export interface RemotingComponents {
  codec: Codec
  transport: Transport
  logger: Logger
  clock: Clock
  /**
   * Hands a validated-to-be message to the local actor at `path`; `re` is the message's id on its
   * host, given back to `reply` with the letter it answers (`Letter.re`).
   */
  deliver: (path: string, type: string, body: unknown, reply: ReplyFn | undefined, sender: Sender, re: number) => void
  onBadFrame: () => void
  /** Metrics: counts every message sent and received, by peer and type. */
  messages?: MessageObserver
}

interface Pending {
  host: string
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: unknown
}

/**
 * The envelope layer between the actor system and the transport: encodes outgoing messages,
 * matches replies to asks, answers every bad incoming frame with a typed `sys.error`, and fails
 * asks at once when their host goes away.
 */
export interface Remoting {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Sends `msg` (its `type` included) one way to the actor at `path` on `host`. */
  dispatch: (host: string, path: string, msg: { type: string }, from: string) => void
  ask: (host: string, path: string, msg: { type: string }, opts: { timeoutMs: number, from: string }) => Promise<unknown>
  /** The envelope version messages to `host` use now. */
  envelopeTo: (host: string) => number
  /** Asks in flight (for tests and stats). */
  pending: () => number
}

/** The wire body of version 1: the message less its `type`, which that envelope carries apart. */
function withoutType (msg: { type: string }): Record<string, unknown> {
  const { type: _type, ...body } = msg as { type: string } & Record<string, unknown>
  return body
}

/** No sender yet (remoting's last-sender cache when empty). */
const NO_SENDER: Sender = Object.freeze({ host: '', path: '' })

export function createRemoting (init: RemotingInit, components: RemotingComponents): Remoting {
  const { codec, transport, clock, messages } = components
  const log = components.logger.child({ component: 'remoting' })
  const logGate = createLogLimiter({}, { clock })
  const ours = init.envelopes ?? ENVELOPE_VERSIONS
  const speaksCompact = ours.includes(COMPACT_ENVELOPE_VERSION)
  const compact = createCompactEnvelopeCodec({ codec })
  /** The envelope version each connected host negotiated in its hello; absent: 1. */
  const versions = new Map<string, number>()
  /** The last sender seen per host, so a stream from one actor makes one Sender, not one per message. */
  const senders = new Map<string, Sender>()
  const pending = new Map<number, Pending>()
  const cur: CompactEnvelope = { kind: 0, id: 0, re: -1, to: '', from: '', replyTo: '', type: '', body: null, learned: -1, nonce: 0 }
  const speaksTemplates = ours.includes(TEMPLATE_ENVELOPE_VERSION)
  /** Paths the transport reads from headers: never templated. */
  const literal = new Set(transport.priorityPaths ?? [])
  /** Version 3: per host, the templates of what this host sends it and of what it sends this host. */
  const templates = createPeerTemplates({
    report: (host, body) => {
      const version = envelopeTo(host)
      if (version < TEMPLATE_ENVELOPE_VERSION) return
      send(host, version, CompactKind.learned, 'sys.learned', nextId++, -1, '', '', '', body,
        (e) => { log.debug({ host, err: e.message }, 'could not report learned templates') })
    }
  })
  let nextId = 1
  let started = false

  const envelopeTo = (host: string): number => versions.get(host) ?? 1
  /** The host last dispatched to, its envelope version and failure function: a stream of one-way messages to one host looks neither up per message. */
  let lastTo = ''
  let lastVersion = 1
  let lastFailure: ((err: Error) => void) | undefined

  /** The sender of the last message received: a stream from one actor looks nothing up. */
  let lastSender: Sender = NO_SENDER
  const senderOf = (host: string, path: string): Sender => {
    if (lastSender.host === host && lastSender.path === path) return lastSender
    let s = senders.get(host)
    if (s === undefined || s.path !== path) {
      s = Object.freeze({ host, path })
      senders.set(host, s)
    }
    lastSender = s
    return s
  }

  const send = (host: string, version: number, kind: number, type: string, id: number, re: number, to: string, from: string, replyTo: string, body: unknown, onFailure?: (err: Error) => void): void => {
    const table = version >= TEMPLATE_ENVELOPE_VERSION && kind <= CompactKind.ask && !literal.has(to) ? templates.to(host) : undefined
    const target = version >= COMPACT_ENVELOPE_VERSION ? transport.sendTarget?.(host) : undefined
    if (target !== undefined) {
      // A flat body goes straight into the transport's outgoing memory.
      const end = compact.encodeTo(kind, id, re, to, from, replyTo, body, target.bytes, target.at, table)
      if (end >= 0) {
        messages?.sent(host, type, end - target.at)
        transport.commitSend?.(host, end, onFailure)
        return
      }
    }
    let frame: Buffer
    if (version >= COMPACT_ENVELOPE_VERSION) {
      frame = compact.encode(kind, id, re, to, from, replyTo, body, table)
    } else {
      const env: Envelope = { v: PROTOCOL_VERSION, type, id, from, to, body: kind === CompactKind.dispatch || kind === CompactKind.ask ? withoutType(body as { type: string }) : body }
      if (kind === CompactKind.ask) env.replyTo = replyTo
      if (re >= 0) env.re = re
      frame = encodeEnvelope(codec, env)
    }
    if (kind !== CompactKind.learned) messages?.sent(host, type, frame.byteLength)
    transport.send(host, frame, onFailure)
  }

  const sendError = (host: string, version: number, re: number | undefined, err: unknown, to = '', type = ''): void => {
    if (type !== '') messages?.failed(host, type, 'rejected')
    send(host, version, re === undefined ? CompactKind.errorNoRe : CompactKind.error, SYS_ERROR, nextId++, re ?? -1, to, '', '', toWireError(err),
      (e) => { log.debug({ host, err: e.message }, 'could not send error reply') })
  }

  const settle = (host: string, type: string, re: number, body: unknown): void => {
    const p = re < 0 ? undefined : pending.get(re)
    if (type === SYS_ERROR && isWireError(body) && body.code === UnknownTemplateError.code && templates.unknown(host, body.details?.ref)) {
      log.info({ host, ref: body.details?.ref }, 'peer does not know a template it learned (it restarted): templates to it start afresh')
    }
    if (p === undefined || p.host !== host) {
      if (type === SYS_ERROR) {
        const wire = isWireError(body) ? body : { code: 'ERR_UNKNOWN', message: 'malformed error body' }
        const gate = logGate.take(`${host}:reported:${wire.code}`)
        if (gate !== false) log.warn({ host, re: re < 0 ? undefined : re, code: wire.code, err: wire.message, ...suppressedField(gate) }, 'peer reported an error for a message we sent')
      }
      return
    }
    pending.delete(re)
    clock.clearTimeout(p.timer)
    if (type === SYS_REPLY) {
      p.resolve(body)
    } else {
      p.reject(errorFromWire(isWireError(body) ? body : { code: 'ERR_UNKNOWN', message: 'malformed error body' }))
    }
  }

  const failureLoggers = new Map<string, (err: Error) => void>()
  /** One logger per host, so a dispatch allocates nothing for the failure path. */
  const dispatchFailure = (host: string): ((err: Error) => void) => perHost(failureLoggers, host, () => (err: Error) => {
    messages?.failed(host, 'dispatch', 'undelivered')
    log.warn({ host, code: (err as RoostError).code, err: err.message }, 'dispatch not delivered')
  })

  const dispatchReplies = new Map<string, ReplyFn>()
  /** The answer function last used, for its host and version: a stream of one-way messages from one host looks nothing up. */
  let lastReplyHost = ''
  let lastReplyVersion = 0
  let lastReply: ReplyFn | undefined
  /**
   * One answer function per host and envelope version for its one-way messages: it tells the
   * sender of a failure only, and reads the message's id, sender and type from the letter it
   * answers, so a message allocates no closure of its own.
   */
  const dispatchReply = (host: string, version: number): ReplyFn => perHost(dispatchReplies, version === COMPACT_ENVELOPE_VERSION ? host : `${version}:${host}`, () => (err, _value, letter) => {
    if (err === undefined) return
    if (letter?.re === undefined) {
      log.debug({ host, code: (err as RoostError).code, err: err.message }, 'a failed one-way message without its letter: not reported back')
      return
    }
    sendError(host, version, letter.re, err, letter.sender?.path ?? '', letter.msg.type)
  })

  const badFrame = (host: string, version: number, bytes: number, err: unknown): void => {
    components.onBadFrame()
    messages?.failed(host, 'frame', 'malformed')
    const e = err instanceof RoostError ? err : new MalformedFrameError(String(err))
    const id = e.details?.id as number | undefined
    const gate = logGate.take(`${host}:${e.code}`)
    if (gate !== false) log.warn({ host, code: e.code, err: e.message, bytes, ...suppressedField(gate) }, 'bad frame')
    sendError(host, version, id, e)
  }

  /** Hands a decoded message on; `body` is what the target's schema checks (version 1: without `type`). */
  const received = (host: string, version: number, kind: number, type: string, id: number, re: number, to: string, from: string, replyTo: string, body: unknown, bytes: number): void => {
    messages?.received(host, type, bytes)
    if (kind === CompactKind.reply || kind === CompactKind.error || kind === CompactKind.errorNoRe) {
      settle(host, type, re, body)
      return
    }
    let reply: ReplyFn
    if (kind === CompactKind.dispatch) {
      if (lastReply === undefined || host !== lastReplyHost || version !== lastReplyVersion) {
        lastReply = dispatchReply(host, version)
        lastReplyHost = host
        lastReplyVersion = version
      }
      reply = lastReply
    } else {
      reply = (err, value) => {
        if (err !== undefined) {
          sendError(host, version, id, err, replyTo, type)
          return
        }
        send(host, version, CompactKind.reply, SYS_REPLY, nextId++, id, replyTo, to, '', value ?? null,
          (e) => { log.debug({ host, err: e.message }, 'could not send reply') })
      }
    }
    components.deliver(to, type, body, reply, senderOf(host, from), id)
  }

  const onFrame = (host: string, payload: Buffer): void => { onFrameRange(host, payload, 0, payload.byteLength) }

  const onFrameRange = (host: string, bytes: Uint8Array, start: number, end: number): void => {
    if (speaksCompact && bytes[start] === COMPACT_TAG) {
      try {
        compact.decode(bytes, cur, start, end, speaksTemplates ? templates.from(host) : undefined)
      } catch (err) {
        // Answered in the version agreed with the host: a peer that never offered version 2 sent bytes, not an envelope.
        badFrame(host, envelopeTo(host), end - start, err)
        return
      }
      const { kind, type, id, re, to, from, replyTo, body } = cur
      cur.body = null
      if (kind === CompactKind.learned) {
        templates.confirmed(host, body)
        return
      }
      if ((cur.learned as number) >= 0) templates.learned(host, cur.nonce as number, cur.learned as number)
      received(host, COMPACT_ENVELOPE_VERSION, kind, type, id, re, to, from, replyTo, body, end - start)
      return
    }
    const payload = bytes.subarray(start, end)
    let env: Envelope
    try {
      env = decodeEnvelope(codec, payload)
    } catch (err) {
      badFrame(host, envelopeTo(host), payload.byteLength, err)
      return
    }
    const kind = env.type === SYS_REPLY
      ? CompactKind.reply
      : env.type === SYS_ERROR ? CompactKind.error : env.replyTo === undefined ? CompactKind.dispatch : CompactKind.ask
    received(host, 1, kind, env.type, env.id, env.re ?? -1, env.to, env.from, env.replyTo ?? '', env.body, payload.byteLength)
  }

  const onFrameError = (host: string, err: Error): void => {
    components.onBadFrame()
    messages?.failed(host, 'frame', 'malformed')
    const gate = logGate.take(`${host}:${(err as RoostError).code}`)
    if (gate !== false) log.warn({ host, code: (err as RoostError).code, err: err.message, ...suppressedField(gate) }, 'bad frame')
    sendError(host, envelopeTo(host), undefined, err)
  }

  /** A host's connection came or went (its version may change, its senders are new): the last-used lookups are looked up again. */
  const forgetLast = (host: string): void => {
    lastFailure = undefined
    lastReply = undefined
    if (lastSender.host === host) lastSender = NO_SENDER
  }

  const onConnect = (peer: PeerInfo): void => {
    forgetLast(peer.hostId)
    templates.forget(peer.hostId)
    const v = negotiateEnvelope(ours, peer.envelopes)
    if (v === 1) versions.delete(peer.hostId)
    else versions.set(peer.hostId, v)
  }

  const onDisconnect = (host: string): void => {
    forgetLast(host)
    // The next connection may be to a restarted host of another version: until its hello, version 1.
    versions.delete(host)
    templates.forget(host)
    senders.delete(host)
    for (const [id, p] of pending) {
      if (p.host !== host) continue
      pending.delete(id)
      clock.clearTimeout(p.timer)
      p.reject(new HostUnreachableError(`host ${host.slice(0, 12)} went away with the message in flight`, { host }))
    }
  }

  return {
    async start () {
      if (started) return
      started = true
      if (transport.framesAsRanges === true) transport.on('frame-range', onFrameRange)
      else transport.on('frame', onFrame)
      transport.on('connect', onConnect)
      transport.on('disconnect', onDisconnect)
      transport.on('frame-error', onFrameError)
      for (const peer of transport.peers()) if (peer.connected) onConnect(peer)
    },
    async stop () {
      if (!started) return
      started = false
      if (transport.framesAsRanges === true) transport.off('frame-range', onFrameRange)
      else transport.off('frame', onFrame)
      transport.off('connect', onConnect)
      transport.off('disconnect', onDisconnect)
      transport.off('frame-error', onFrameError)
      for (const [id, p] of pending) {
        pending.delete(id)
        clock.clearTimeout(p.timer)
        p.reject(new HostUnreachableError('actor system stopped with the message in flight', { host: p.host }))
      }
    },
    dispatch (host, path, msg, from) {
      if (host !== lastTo || lastFailure === undefined) {
        lastVersion = envelopeTo(host)
        lastFailure = dispatchFailure(host)
        lastTo = host
      }
      send(host, lastVersion, CompactKind.dispatch, msg.type, nextId++, -1, path, from, '', msg, lastFailure)
    },
    async ask (host, path, msg, opts) {
      const id = nextId++
      return await new Promise((resolve, reject) => {
        const timer = clock.setTimeout(() => {
          if (!pending.delete(id)) return
          reject(new AskTimeoutError(`no reply from ${host.slice(0, 12)}${path} to ${msg.type} within ${opts.timeoutMs} ms`, { host, path, type: msg.type, timeoutMs: opts.timeoutMs }))
        }, opts.timeoutMs)
        pending.set(id, { host, resolve, reject, timer })
        send(host, envelopeTo(host), CompactKind.ask, msg.type, id, -1, path, opts.from, opts.from === '' ? '/ask' : opts.from, msg, (err) => {
          if (!pending.delete(id)) return
          clock.clearTimeout(timer)
          reject(err)
        })
      })
    },
    envelopeTo,
    pending: () => pending.size
  }
}
