import * as nact from 'nact'
import type { Codec } from '../codec/codec.js'
import type { MessageOf, MessageOfType, ProtocolSpec, ReplyOf } from '../codec/protocol.js'
import {
  ActorNotFoundError, AskTimeoutError, InvalidArgumentError, InvalidMessageError, NotStartedError,
  SenderNotAllowedError
} from '../errors/errors.js'
import type { RoostError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { Transport } from '../transport/transport.js'
import type { ActorDefinition, Sender } from './actor.js'
import { systemClock, type Clock } from './clock.js'
import { childPath, type Ref } from './ref.js'
import { createRemoting, type Remoting } from './remoting.js'
import { senderAllowed } from './senders.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'
import { letterOf, type Letter, type ReplyFn } from './mailbox.js'
import { DRAIN, spawnCell, type ActorRecord, type CellEnv } from './actor-cell.js'
import type { ActorObserver, MessageObserver } from './observers.js'

export const DEFAULT_ASK_TIMEOUT_MS = 5_000


export interface AskOptions {
  timeoutMs?: number
  /** Path of the asking actor, for the envelope's `from`. */
  from?: string
}

export type { ReplyFn } from './mailbox.js'

const RULE_TEXT = {
  self: 'the actor itself',
  owner: 'the actor that spawned it',
  child: 'its children',
  host: 'this host',
  member: 'cluster members'
} as const


export interface ActorSystemInit {
  hostId: string
  defaultAskTimeoutMs?: number
  /** Envelope versions spoken with other hosts (remoting's `envelopes`; default all this code speaks). */
  envelopes?: readonly number[]
}

export interface ActorSystemComponents {
  logger: Logger
  codec: Codec
  transport: Transport
  clock?: Clock
  /** Metrics: handling times per actor family (absent: not timed). */
  actors?: ActorObserver
  /** Metrics: messages to and from other hosts (absent: not counted). */
  messages?: MessageObserver
}

/** Counters for observability and tests. */
export interface SystemStats {
  delivered: number
  rejected: number
  crashes: number
  restarts: number
  badFrames: number
}

/**
 * One host's actors over nact, with typed refs, supervision, and location-transparent
 * dispatch/ask: a ref to another host goes through the transport, the same call either way.
 */
export interface ActorSystem {
  readonly hostId: string
  readonly stats: SystemStats
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Spawns an actor at `<parent>/<name>` (a root actor when parent is null). */
  spawn: <S extends ProtocolSpec>(parent: string | null, name: string, def: ActorDefinition<S>) => Ref<S>
  stopActor: (path: string) => void
  /** Fire-and-forget. Failures are logged (and reported back by the receiving host). */
  dispatch: <S extends ProtocolSpec>(to: Ref<S>, msg: MessageOf<S>, opts?: { from?: string }) => void
  /** Request/reply; rejects with a typed error on timeout, rejection, crash or host loss. */
  ask: <S extends ProtocolSpec, K extends keyof S & string>(to: Ref<S>, msg: MessageOfType<S, K>, opts?: AskOptions) => Promise<ReplyOf<S, K>>
  /** For untyped callers (control socket): the body is validated by the target's protocol. */
  askUntyped: (host: string, path: string, type: string, body: unknown, opts?: AskOptions) => Promise<unknown>
  /** Delivers a message that arrived from outside the process; validates it first. `re`: its id where it came from, handed to `reply` with the letter. */
  deliverExternal: (path: string, type: string, body: unknown, reply: ReplyFn | undefined, sender?: Sender, re?: number) => void
  has: (path: string) => boolean
  actors: () => string[]
  /** Called when a root actor fails beyond its policy (the process should exit). */
  onFatal: (cb: (err: Error) => void) => void
  /** Messages waiting in each live actor's mailbox (read on scrape). */
  mailboxes: () => Array<{ path: string, depth: number }>
  readonly remoting: Remoting
}

export function createActorSystem (init: ActorSystemInit, components: ActorSystemComponents): ActorSystem {
  const { hostId } = init
  const clock = components.clock ?? systemClock
  const logGate = createLogLimiter({}, { clock })
  const log = components.logger.child({ component: 'actor-system' })
  const defaultTimeout = init.defaultAskTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS
  const records = new Map<string, ActorRecord>()
  const fatalHandlers: Array<(err: Error) => void> = []
  const stats: SystemStats = { delivered: 0, rejected: 0, crashes: 0, restarts: 0, badFrames: 0 }
  let root: nact.ActorSystemRef | undefined

  const localSender: Sender = Object.freeze({ host: hostId, path: '' })

  /** The letter a message refused before it reached a mailbox is answered as (only refusals make one). */
  const unqueued = (type: string, sender: Sender | undefined, re: number | undefined): Letter => re === undefined ? { msg: { type }, sender } : { msg: { type }, sender, re }

  /**
   * Refuses a message whose sender its type's rule does not allow (one log line, a typed error
   * to the caller); true when it was refused. Types the protocol does not know pass: parse
   * refuses those.
   */
  const refused = (rec: ActorRecord, type: string, sender: Sender | undefined, reply: ReplyFn | undefined, re?: number): boolean => {
    const rule = rec.protocol.senderRule(type)
    const from = sender ?? localSender
    if (rule === undefined || senderAllowed(rule, from, { hostId, path: rec.path, parent: rec.parent })) return false
    stats.rejected++
    const details = { type, path: rec.path, rule, senderHost: from.host, senderPath: from.path }
    const gate = logGate.take(`refused:${from.host}:${rec.path}:${type}`)
    if (gate !== false) rec.log.warn({ ...details, code: SenderNotAllowedError.code, ...suppressedField(gate) }, 'refused a message from a sender its type does not allow')
    reply?.(new SenderNotAllowedError(`${type} to ${rec.path} is accepted only from ${RULE_TEXT[rule]}; it came from ${from.host === hostId ? 'this host' : `host ${from.host.slice(0, 12)}`}${from.path === '' ? '' : ` (${from.path})`}`, details), undefined, unqueued(type, sender, re))
    return true
  }

  const deliverLocal = (path: string, msg: { type: string }, reply: ReplyFn | undefined, inline = false, sender?: Sender, checked = false, re?: number): void => {
    const rec = records.get(path)
    if (rec === undefined || rec.stopped) {
      reply?.(new ActorNotFoundError(`no actor at ${path} on host ${hostId.slice(0, 12)}`, { path }), undefined, unqueued(msg.type, sender, re))
      return
    }
    if (!checked && refused(rec, msg.type, sender, reply, re)) return
    enqueue(rec, msg, reply, inline, sender, re)
  }

  /**
   * Queues a checked message for `rec`; one from outside the process that finds the actor idle
   * is handled at once, on this stack, without a letter of its own ({@link ActorRecord.handleNow}).
   */
  const enqueue = (rec: ActorRecord, msg: { type: string }, reply: ReplyFn | undefined, inline: boolean, sender: Sender | undefined, re: number | undefined): void => {
    if (rec.nactRef === undefined) {
      reply?.(new ActorNotFoundError(`no actor at ${rec.path} on host ${hostId.slice(0, 12)}`, { path: rec.path }), undefined, unqueued(msg.type, sender, re))
      return
    }
    stats.delivered++
    if (inline && !rec.scheduled) {
      if (rec.mailbox.size() === 0) {
        rec.handleNow(msg, reply, sender, re)
        return
      }
      rec.mailbox.push(letterOf(msg, reply, sender, re))
      rec.drainInline()
      return
    }
    rec.mailbox.push(letterOf(msg, reply, sender, re))
    scheduleDrain(rec)
  }

  const scheduleDrain = (rec: ActorRecord): void => {
    if (rec.scheduled || rec.stopped || rec.nactRef === undefined || rec.mailbox.size() === 0) return
    rec.scheduled = true
    nact.dispatch(rec.nactRef, DRAIN as never)
  }

  const deliverExternal = (path: string, type: string, body: unknown, reply: ReplyFn | undefined, sender?: Sender, re?: number): void => {
    const rec = records.get(path)
    if (rec === undefined || rec.stopped) {
      stats.rejected++
      reply?.(new ActorNotFoundError(`no actor at ${path} on host ${hostId.slice(0, 12)}`, { path }), undefined, unqueued(type, sender, re))
      return
    }
    if (refused(rec, type, sender, reply, re)) return
    let msg: { type: string }
    try {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new InvalidMessageError(`body of ${type} must be a map`, { type, path: '' })
      }
      msg = rec.protocol.parse(type, body)
    } catch (err) {
      stats.rejected++
      const gate = logGate.take(`rejected:${sender?.host ?? ''}:${path}:${(err as RoostError).code}`)
      if (gate !== false) rec.log.warn({ code: (err as RoostError).code, type, err: (err as Error).message, ...suppressedField(gate) }, 'rejected message')
      reply?.(err as Error, undefined, unqueued(type, sender, re))
      return
    }
    enqueue(rec, msg, reply, true, sender, re)
  }

  const remoting: Remoting = createRemoting({ hostId, ...(init.envelopes === undefined ? {} : { envelopes: init.envelopes }) }, {
    codec: components.codec,
    transport: components.transport,
    logger: components.logger,
    clock,
    deliver: deliverExternal,
    onBadFrame: () => { stats.badFrames++ },
    ...(components.messages === undefined ? {} : { messages: components.messages })
  })

  /** The reply of every local dispatch: one shared function, so a dispatch allocates no closure. */
  const logDispatchFailure: ReplyFn = (err) => {
    if (err !== undefined) log.warn({ ...(err as RoostError).details, code: (err as RoostError).code, err: err.message }, 'dispatch failed')
  }

  const requireRoot = (): nact.ActorSystemRef => {
    if (root === undefined) throw new NotStartedError('actor system is not started')
    return root
  }

  const stopRecord = (rec: ActorRecord): void => {
    if (rec.stopped) return
    stopDescendants(rec.path)
    rec.stopped = true
    if (rec.nactRef !== undefined) nact.stop(rec.nactRef)
  }

  /**
   * nact (7.6.2) does not stop an actor's grandchildren, nor its children when it stops (its
   * Actor.stop hands Actor instances to the ref-based stop()), and once a parent is detached its
   * children can't be reached by ref. So stop live descendants first, deepest first, before nact
   * stops or resets the parent; this also marks their records at once, so create() can re-spawn
   * a child of the same name on restart.
   */
  const stopDescendants = (path: string): void => {
    for (const r of [...records.values()]) if (r.parent === path) stopRecord(r)
  }

  const spawn = <S extends ProtocolSpec>(parent: string | null, name: string, def: ActorDefinition<S>): Ref<S> => {
    const sysRef = requireRoot()
    const path = childPath(parent, name)
    const existing = records.get(path)
    if (existing !== undefined && !existing.stopped) {
      throw new InvalidArgumentError(`an actor already runs at ${path}`, { path })
    }
    let parentNact: nact.Ref<unknown> = sysRef
    if (parent !== null) {
      const p = records.get(parent)
      if (p?.nactRef === undefined || p.stopped) throw new ActorNotFoundError(`parent ${parent} does not exist`, { path: parent })
      parentNact = p.nactRef
    }
    return spawnCell(parentNact, parent, name, path, def, cellEnv)
  }

  const ask = async (host: string, path: string, msg: { type: string }, opts: AskOptions | undefined, validate: boolean): Promise<unknown> => {
    const timeoutMs = opts?.timeoutMs ?? defaultTimeout
    if (host !== hostId) {
      return await remoting.ask(host, path, msg, { timeoutMs, from: opts?.from ?? '' })
    }
    return await new Promise((resolve, reject) => {
      let done = false
      const timer = clock.setTimeout(() => {
        if (done) return
        done = true
        reject(new AskTimeoutError(`no reply from ${path} to ${msg.type} within ${timeoutMs} ms`, { path, type: msg.type, timeoutMs }))
      }, timeoutMs)
      const reply: ReplyFn = (err, value) => {
        if (done) return
        done = true
        clock.clearTimeout(timer)
        if (err !== undefined) reject(err)
        else resolve(value ?? null)
      }
      if (validate) {
        const { type, ...body } = msg
        deliverExternal(path, type, body, reply)
      } else {
        deliverLocal(path, msg, reply, false, opts?.from === undefined ? undefined : { host: hostId, path: opts.from })
      }
    })
  }

  const system: ActorSystem = {
    hostId,
    stats,
    remoting,
    async start () {
      if (root !== undefined) return
      root = nact.start()
      await remoting.start()
    },
    async stop () {
      if (root === undefined) return
      await remoting.stop()
      for (const rec of [...records.values()].filter(r => r.parent === null)) stopRecord(rec)
      const sysRef = root
      root = undefined
      await new Promise(resolve => setImmediate(resolve))
      nact.stop(sysRef)
      records.clear()
    },
    spawn,
    stopActor (path) {
      const rec = records.get(path)
      if (rec !== undefined) stopRecord(rec)
    },
    dispatch (to, msg, opts) {
      if (to.host === hostId) {
        deliverLocal(to.path, msg, logDispatchFailure, false, opts?.from === undefined ? undefined : { host: hostId, path: opts.from })
        return
      }
      remoting.dispatch(to.host, to.path, msg, opts?.from ?? '')
    },
    async ask (to, msg, opts) {
      return await ask(to.host, to.path, msg, opts, false) as never
    },
    async askUntyped (host, path, type, body, opts) {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgumentError(`body of ${type} must be an object`, { type })
      if (host !== hostId) return await remoting.ask(host, path, { ...body, type }, { timeoutMs: opts?.timeoutMs ?? defaultTimeout, from: opts?.from ?? '' })
      return await ask(host, path, { ...body, type }, opts, true)
    },
    deliverExternal,
    has: (path) => { const r = records.get(path); return r !== undefined && !r.stopped },
    actors: () => [...records.values()].filter(r => !r.stopped).map(r => r.path).sort(),
    onFatal (cb) { fatalHandlers.push(cb) },
    mailboxes: () => [...records.values()].filter(r => !r.stopped).map(r => ({ path: r.path, depth: r.mailbox.size() }))
  }
  const cellEnv: CellEnv = { hostId, clock, logger: components.logger, records, stats, fatalHandlers, system, spawn, stopDescendants, scheduleDrain, localSender, ...(components.actors === undefined ? {} : { actors: components.actors }) }
  return system
}
