import type { Rng } from './rng.js'
import type { VirtualClock } from './virtual-clock.js'

export const DEFAULT_LATENCY_MS = 0.5
export const DEFAULT_JITTER_MS = 0.2
export const DEFAULT_LOSS = 0

/** Receives a message delivered to an attached host. An exception propagates out of the clock's run. */
export type SimMessageHandler<M> = (from: string, msg: M) => void

/** What an attached host sends through. */
export interface SimEndpoint<M> {
  readonly hostId: string
  /**
   * Sends `msg` to `to`, datagram-style: it arrives after the link's latency plus a uniform
   * jitter in [0, jitterMs), or not at all. With jitter, two messages between the same hosts
   * may arrive in either order (like UDP). Once this endpoint's host is detached, sending is
   * a no-op counted only as `discarded` — even if the host has been attached again since.
   */
  send: (to: string, msg: M) => void
}

/** Per-link overrides; an option left out follows the network-wide value, even as that changes. */
export interface SimLinkOptions {
  latencyMs?: number
  jitterMs?: number
  loss?: number
}

/** Options for {@link createSimNetwork}. */
export interface SimNetworkInit<M> {
  clock: VirtualClock
  /** The network draws from `rng.fork('jitter')` and `rng.fork('loss')` only, one draw each per message sent. */
  rng: Rng
  /** Base one-way latency, ms (default {@link DEFAULT_LATENCY_MS}). */
  latencyMs?: number
  /** Upper bound of the uniform extra delay, ms (default {@link DEFAULT_JITTER_MS}). */
  jitterMs?: number
  /** Probability that a message is lost, 0..1 (default {@link DEFAULT_LOSS}). */
  loss?: number
  /** A message's size in bytes for accounting (e.g. its msgpack length); byteLength for binary messages, else 0, unless given. */
  sizeOf?: (msg: M) => number
}

/** A message count and its bytes (by `sizeOf`). */
export interface SimCounters {
  messages: number
  bytes: number
}

/** Messages sent that did not arrive, by reason. */
export interface SimDropCounters {
  /** Random loss (network-wide or per-link). */
  loss: number
  /** A partition or a block between sender and receiver, at send or while in flight. */
  partition: number
  /** The receiver was not attached when the message was sent, or was detached before it arrived. */
  detached: number
}

/**
 * Traffic of one host (or all). `sent` counts every message handed to the network by an
 * attached host, dropped or not; `dropped` counts, by reason, those of them that never arrived.
 * Without a `resetStats` in between, sent = received + dropped (all reasons) + in flight.
 */
export interface SimTrafficStats {
  sent: SimCounters
  received: SimCounters
  dropped: SimDropCounters
  /** Sends attempted through the endpoint of a detached host (not part of `sent`). */
  discarded: number
}

/** Network-wide traffic, plus messages currently in flight. */
export interface SimTrafficTotals extends SimTrafficStats {
  inFlight: number
}

/**
 * A simulated datagram network between hosts in one process, on a {@link VirtualClock}.
 * Deterministic given the clock's and rng's inputs. Partitions and blocks are checked when a
 * message is sent and again when it would arrive, so a partition also cuts messages in flight.
 */
export interface SimNetwork<M> {
  /** Connects a host. Throws if it is already attached. */
  attach: (hostId: string, handler: SimMessageHandler<M>) => SimEndpoint<M>
  /** Disconnects a host (a crash): messages to it, including those in flight, are dropped; it sends nothing. No-op if not attached. */
  detach: (hostId: string) => void
  isAttached: (hostId: string) => boolean
  /** Hosts currently attached, in the order they were first attached. */
  hosts: () => string[]
  /** Changes the network-wide loss probability from now on. */
  setLoss: (p: number) => void
  /** Overrides latency/jitter/loss between `a` and `b`, both directions (replacing an earlier override). */
  setLink: (a: string, b: string, opts: SimLinkOptions) => void
  /** Removes the override between `a` and `b`. */
  clearLink: (a: string, b: string) => void
  /** Drops every message between a host of `groupA` and one of `groupB`, both ways, until `heal()`. Partitions add up. */
  partition: (groupA: readonly string[], groupB: readonly string[]) => void
  /** Removes every partition (not blocks). */
  heal: () => void
  /** Drops every message from `from` to `to` (one direction) until `unblock`. */
  block: (from: string, to: string) => void
  unblock: (from: string, to: string) => void
  /** A snapshot of one host's traffic (zeros for a host never seen). */
  stats: (hostId: string) => SimTrafficStats
  /** A snapshot of the whole network's traffic. */
  totals: () => SimTrafficTotals
  /** Zeroes every counter (messages in flight are still delivered and counted as received). */
  resetStats: () => void
}

interface Attachment<M> {
  handler: SimMessageHandler<M>
}

interface HostState<M> {
  id: string
  attachment: Attachment<M> | undefined
  sentMessages: number
  sentBytes: number
  receivedMessages: number
  receivedBytes: number
  droppedLoss: number
  droppedPartition: number
  droppedDetached: number
  discarded: number
}

interface Partition {
  a: ReadonlySet<string>
  b: ReadonlySet<string>
}

function checkProbability (what: string, p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`sim network: ${what} must be in [0, 1], got ${p}`)
  return p
}

function checkDuration (what: string, ms: number): number {
  if (!(ms >= 0 && Number.isFinite(ms))) throw new RangeError(`sim network: ${what} must be a finite number ≥ 0, got ${ms}`)
  return ms
}

function checkLink (opts: SimLinkOptions): SimLinkOptions {
  if (opts.latencyMs !== undefined) checkDuration('latencyMs', opts.latencyMs)
  if (opts.jitterMs !== undefined) checkDuration('jitterMs', opts.jitterMs)
  if (opts.loss !== undefined) checkProbability('loss', opts.loss)
  return { ...opts }
}

function defaultSizeOf (msg: unknown): number {
  if (ArrayBuffer.isView(msg)) return msg.byteLength
  if (msg instanceof ArrayBuffer) return msg.byteLength
  return 0
}

function newHostState<M> (id: string): HostState<M> {
  return {
    id,
    attachment: undefined,
    sentMessages: 0,
    sentBytes: 0,
    receivedMessages: 0,
    receivedBytes: 0,
    droppedLoss: 0,
    droppedPartition: 0,
    droppedDetached: 0,
    discarded: 0
  }
}

/** Directed link key; host ids do not contain NUL. */
function linkKey (from: string, to: string): string {
  return `${from}\u0000${to}`
}

/** Creates a simulated network on `init.clock`, drawing randomness from forks of `init.rng`. */
export function createSimNetwork<M> (init: SimNetworkInit<M>): SimNetwork<M> {
  const { clock } = init
  const jitterRng = init.rng.fork('jitter')
  const lossRng = init.rng.fork('loss')
  const latencyMs = checkDuration('latencyMs', init.latencyMs ?? DEFAULT_LATENCY_MS)
  const jitterMs = checkDuration('jitterMs', init.jitterMs ?? DEFAULT_JITTER_MS)
  let loss = checkProbability('loss', init.loss ?? DEFAULT_LOSS)
  const sizeOf: (msg: M) => number = init.sizeOf ?? defaultSizeOf

  const hostStates = new Map<string, HostState<M>>()
  const links = new Map<string, SimLinkOptions>()
  const blocked = new Set<string>()
  let partitions: Partition[] = []
  let inFlight = 0

  function host (id: string): HostState<M> {
    let h = hostStates.get(id)
    if (h === undefined) {
      h = newHostState(id)
      hostStates.set(id, h)
    }
    return h
  }

  function isCut (from: string, to: string): boolean {
    if (blocked.size > 0 && blocked.has(linkKey(from, to))) return true
    for (const p of partitions) {
      if ((p.a.has(from) && p.b.has(to)) || (p.b.has(from) && p.a.has(to))) return true
    }
    return false
  }

  function send (sender: HostState<M>, attachment: Attachment<M>, to: string, msg: M): void {
    if (sender.attachment !== attachment) {
      sender.discarded++
      return
    }
    const size = sizeOf(msg)
    sender.sentMessages++
    sender.sentBytes += size
    // Both draws happen for every message sent, so message k's fate is the same whatever
    // happens to the others (changing the loss rate does not shift anyone's delay).
    const jitterDraw = jitterRng.next()
    const lossDraw = lossRng.next()

    const receiver = hostStates.get(to)
    const target = receiver?.attachment
    if (receiver === undefined || target === undefined) {
      sender.droppedDetached++
      return
    }
    const from = sender.id
    if ((blocked.size > 0 || partitions.length > 0) && isCut(from, to)) {
      sender.droppedPartition++
      return
    }
    const link = links.size > 0 ? links.get(linkKey(from, to)) : undefined
    if (lossDraw < (link?.loss ?? loss)) {
      sender.droppedLoss++
      return
    }
    const delay = (link?.latencyMs ?? latencyMs) + jitterDraw * (link?.jitterMs ?? jitterMs)
    inFlight++
    clock.setTimeout(() => {
      inFlight--
      if (receiver.attachment !== target) {
        sender.droppedDetached++
        return
      }
      if ((blocked.size > 0 || partitions.length > 0) && isCut(from, to)) {
        sender.droppedPartition++
        return
      }
      receiver.receivedMessages++
      receiver.receivedBytes += size
      target.handler(from, msg)
    }, delay)
  }

  function snapshot (h: HostState<M>): SimTrafficStats {
    return {
      sent: { messages: h.sentMessages, bytes: h.sentBytes },
      received: { messages: h.receivedMessages, bytes: h.receivedBytes },
      dropped: { loss: h.droppedLoss, partition: h.droppedPartition, detached: h.droppedDetached },
      discarded: h.discarded
    }
  }

  return {
    attach: (hostId, handler) => {
      if (typeof handler !== 'function') throw new TypeError('sim network: handler must be a function')
      const h = host(hostId)
      if (h.attachment !== undefined) throw new Error(`sim network: host ${hostId} is already attached`)
      const attachment: Attachment<M> = { handler }
      h.attachment = attachment
      return { hostId, send: (to, msg) => { send(h, attachment, to, msg) } }
    },
    detach: (hostId) => {
      const h = hostStates.get(hostId)
      if (h !== undefined) h.attachment = undefined
    },
    isAttached: (hostId) => hostStates.get(hostId)?.attachment !== undefined,
    hosts: () => [...hostStates.values()].filter(h => h.attachment !== undefined).map(h => h.id),
    setLoss: (p) => { loss = checkProbability('loss', p) },
    setLink: (a, b, opts) => {
      const o = checkLink(opts)
      links.set(linkKey(a, b), o)
      links.set(linkKey(b, a), o)
    },
    clearLink: (a, b) => {
      links.delete(linkKey(a, b))
      links.delete(linkKey(b, a))
    },
    partition: (groupA, groupB) => {
      const a = new Set(groupA)
      const b = new Set(groupB)
      for (const id of a) {
        if (b.has(id)) throw new RangeError(`sim network: host ${id} is on both sides of the partition`)
      }
      partitions = [...partitions, { a, b }]
    },
    heal: () => { partitions = [] },
    block: (from, to) => { blocked.add(linkKey(from, to)) },
    unblock: (from, to) => { blocked.delete(linkKey(from, to)) },
    stats: (hostId) => snapshot(hostStates.get(hostId) ?? newHostState(hostId)),
    totals: () => {
      const t: SimTrafficTotals = {
        sent: { messages: 0, bytes: 0 },
        received: { messages: 0, bytes: 0 },
        dropped: { loss: 0, partition: 0, detached: 0 },
        discarded: 0,
        inFlight
      }
      for (const h of hostStates.values()) {
        t.sent.messages += h.sentMessages
        t.sent.bytes += h.sentBytes
        t.received.messages += h.receivedMessages
        t.received.bytes += h.receivedBytes
        t.dropped.loss += h.droppedLoss
        t.dropped.partition += h.droppedPartition
        t.dropped.detached += h.droppedDetached
        t.discarded += h.discarded
      }
      return t
    },
    resetStats: () => {
      for (const h of hostStates.values()) {
        h.sentMessages = 0
        h.sentBytes = 0
        h.receivedMessages = 0
        h.receivedBytes = 0
        h.droppedLoss = 0
        h.droppedPartition = 0
        h.droppedDetached = 0
        h.discarded = 0
      }
    }
  }
}
