import * as nact from 'nact'
import type { Codec } from '../codec/codec.js'
import type { MessageOf, MessageOfType, ProtocolSpec, ReplyOf } from '../codec/protocol.js'
import {
  ActorCrashedError, ActorNotFoundError, ActorStoppedError, AskTimeoutError, InvalidArgumentError, InvalidMessageError, NotStartedError,
  SenderNotAllowedError
} from '../errors/errors.js'
import { RejectionError, RoostError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { Transport } from '../transport/transport.js'
import type { ActorContext, ActorDefinition, Behaviour, Sender } from './actor.js'
import { systemClock, sleep, type Clock } from './clock.js'
import { createSupervisor } from './policy.js'
import { childPath, ref, type Ref } from './ref.js'
import { createRemoting, type Remoting } from './remoting.js'
import { senderAllowed, type ActorProtocol } from './senders.js'
import type { ActorObserver, HandlingTimer, MessageObserver } from './observers.js'

export const DEFAULT_ASK_TIMEOUT_MS = 5_000

/** Carries a handler's error through nact with the type of the message that caused it. */
class CrashOf extends Error {
  constructor (override readonly cause: unknown, readonly type: string) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

export interface AskOptions {
  timeoutMs?: number
  /** Path of the asking actor, for the envelope's `from`. */
  from?: string
}

/** Reply callback carried with a message inside this process. */
export type ReplyFn = (err: Error | undefined, value?: unknown) => void

interface Wrapped {
  msg: { type: string }
  reply?: ReplyFn
  sender?: Sender
  /** When handling began (performance.now), while an asynchronous handler runs and handling is timed. */
  t0?: number
}

/** The only messages nact itself carries: drain the queue, fail, or finish an async handler. */
const DRAIN = Object.freeze({ drain: true })

interface Control {
  drain?: true
  crash?: unknown
  awaiting?: { w: Wrapped, pending: PromiseLike<unknown> }
}

/** The wire body: the message less its `type`, which the envelope carries. */
function withoutType (msg: { type: string }): Record<string, unknown> {
  const { type: _type, ...body } = msg as { type: string } & Record<string, unknown>
  return body
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'

/**
 * Messages handled in one drain before yielding to I/O. nact would spend an event-loop turn
 * per message; draining our own queue in batches keeps actor semantics (one message at a time,
 * in order) at a fraction of the cost.
 */
export const DRAIN_BUDGET = 256

const RULE_TEXT = {
  self: 'the actor itself',
  owner: 'the actor that spawned it',
  child: 'its children',
  host: 'this host',
  member: 'cluster members'
} as const

interface ActorRecord {
  path: string
  parent: string | null
  protocol: ActorProtocol<ProtocolSpec>
  nactRef: nact.Ref<Wrapped> | undefined
  behaviour: Behaviour<ProtocolSpec> | undefined
  stopped: boolean
  log: Logger
  queue: Wrapped[]
  head: number
  /** The actor is busy: a drain runs inline, or a control message is pending or running in nact. */
  scheduled: boolean
  /** Handles queued messages now, on the caller's stack (for messages from outside the process). */
  drainInline: () => void
  /** The family's handling-time timer (when the system has an observer). */
  timer: HandlingTimer | undefined
}

export interface ActorSystemInit {
  hostId: string
  defaultAskTimeoutMs?: number
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
  /** Delivers a message that arrived from outside the process; validates it first. */
  deliverExternal: (path: string, type: string, body: unknown, reply: ReplyFn | undefined, sender?: Sender) => void
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
  const log = components.logger.child({ component: 'actor-system' })
  const defaultTimeout = init.defaultAskTimeoutMs ?? DEFAULT_ASK_TIMEOUT_MS
  const records = new Map<string, ActorRecord>()
  const fatalHandlers: Array<(err: Error) => void> = []
  const stats: SystemStats = { delivered: 0, rejected: 0, crashes: 0, restarts: 0, badFrames: 0 }
  let root: nact.ActorSystemRef | undefined

  const localSender: Sender = Object.freeze({ host: hostId, path: '' })

  /**
   * Refuses a message whose sender its type's rule does not allow (one log line, a typed error
   * to the caller); true when it was refused. Types the protocol does not know pass: parse
   * refuses those.
   */
  const refused = (rec: ActorRecord, type: string, sender: Sender | undefined, reply: ReplyFn | undefined): boolean => {
    const rule = rec.protocol.senderRule(type)
    const from = sender ?? localSender
    if (rule === undefined || senderAllowed(rule, from, { hostId, path: rec.path, parent: rec.parent })) return false
    stats.rejected++
    const details = { type, path: rec.path, rule, senderHost: from.host, senderPath: from.path }
    rec.log.warn({ ...details, code: SenderNotAllowedError.code }, 'refused a message from a sender its type does not allow')
    reply?.(new SenderNotAllowedError(`${type} to ${rec.path} is accepted only from ${RULE_TEXT[rule]}; it came from ${from.host === hostId ? 'this host' : `host ${from.host.slice(0, 12)}`}${from.path === '' ? '' : ` (${from.path})`}`, details))
    return true
  }

  const deliverLocal = (path: string, msg: { type: string }, reply: ReplyFn | undefined, inline = false, sender?: Sender, checked = false): void => {
    const rec = records.get(path)
    if (rec === undefined || rec.stopped || rec.nactRef === undefined) {
      reply?.(new ActorNotFoundError(`no actor at ${path} on host ${hostId.slice(0, 12)}`, { path }))
      return
    }
    if (!checked && refused(rec, msg.type, sender, reply)) return
    stats.delivered++
    rec.queue.push({ msg, reply, sender })
    if (inline && !rec.scheduled) rec.drainInline()
    else scheduleDrain(rec)
  }

  const scheduleDrain = (rec: ActorRecord): void => {
    if (rec.scheduled || rec.stopped || rec.nactRef === undefined || rec.head >= rec.queue.length) return
    rec.scheduled = true
    nact.dispatch(rec.nactRef, DRAIN as never)
  }

  const takeNext = (rec: ActorRecord): Wrapped | undefined => {
    if (rec.head >= rec.queue.length) return undefined
    const w = rec.queue[rec.head] as Wrapped
    rec.queue[rec.head] = undefined as never
    rec.head++
    if (rec.head >= rec.queue.length) {
      rec.queue = []
      rec.head = 0
    } else if (rec.head > 1024 && rec.head * 2 > rec.queue.length) {
      rec.queue = rec.queue.slice(rec.head)
      rec.head = 0
    }
    return w
  }

  const deliverExternal = (path: string, type: string, body: unknown, reply: ReplyFn | undefined, sender?: Sender): void => {
    const rec = records.get(path)
    if (rec === undefined || rec.stopped) {
      stats.rejected++
      reply?.(new ActorNotFoundError(`no actor at ${path} on host ${hostId.slice(0, 12)}`, { path }))
      return
    }
    if (refused(rec, type, sender, reply)) return
    let msg: { type: string }
    try {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new InvalidMessageError(`body of ${type} must be a map`, { type, path: '' })
      }
      msg = rec.protocol.parse(type, body)
    } catch (err) {
      stats.rejected++
      rec.log.warn({ code: (err as RoostError).code, type, err: (err as Error).message }, 'rejected message')
      reply?.(err as Error)
      return
    }
    deliverLocal(path, msg, reply, true, sender, true)
  }

  const remoting: Remoting = createRemoting({ hostId }, {
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
    const self = ref<S>(hostId, path)
    const rec: ActorRecord = {
      path,
      parent,
      protocol: def.protocol as unknown as ActorProtocol<ProtocolSpec>,
      nactRef: undefined,
      behaviour: undefined,
      stopped: false,
      log: components.logger.child({ actor: path }),
      queue: [],
      head: 0,
      scheduled: false,
      drainInline: () => {},
      timer: components.actors?.timerFor(path)
    }
    const supervisor = createSupervisor(def.policy, clock)
    const ctx: ActorContext<S> = {
      self,
      path,
      log: rec.log,
      system,
      tell: (msg) => { system.dispatch(self, msg, { from: path }) },
      spawn: (childName, childDef) => spawn(path, childName, childDef),
      stopChild: (childName) => { system.stopActor(childPath(path, childName)) },
      children: () => [...records.values()].filter(r => r.parent === path && !r.stopped).map(r => r.path)
    }

    const releaseBehaviour = (b: Behaviour<ProtocolSpec> | undefined): void => {
      if (b?.stop === undefined) return
      Promise.resolve().then(b.stop).catch((err: unknown) => { rec.log.warn({ err }, 'error while stopping actor') })
    }

    const initialStateFunc = (nctx: { self: nact.Ref<Wrapped> }): Behaviour<ProtocolSpec> => {
      rec.nactRef = nctx.self
      releaseBehaviour(rec.behaviour)
      rec.behaviour = undefined
      const behaviour = def.create(ctx) as unknown as Behaviour<ProtocolSpec>
      rec.behaviour = behaviour
      return behaviour
    }

    const crashed = (w: Wrapped, err: unknown): CrashOf => {
      w.reply?.(new ActorCrashedError(`${path} crashed handling ${w.msg.type}: ${(err as Error)?.message ?? String(err)}`, { path, type: w.msg.type }))
      return new CrashOf(err, w.msg.type)
    }

    /**
     * Runs one message. Returns a promise when the handler is asynchronous (the caller awaits
     * it before the next message); throws {@link CrashOf} when the actor must be supervised.
     */
    const step = (state: Behaviour<ProtocolSpec>, w: Wrapped): PromiseLike<unknown> | undefined => {
      const handler = state.handlers[w.msg.type] as ((m: unknown, c: unknown, s: Sender) => unknown) | undefined
      if (handler === undefined) {
        w.reply?.(new ActorCrashedError(`${path} has no handler for ${w.msg.type}`))
        return undefined
      }
      const timer = rec.timer
      const t0 = timer === undefined ? 0 : performance.now()
      let value: unknown
      try {
        value = handler(w.msg, ctx, w.sender ?? localSender)
      } catch (err) {
        timer?.observe((performance.now() - t0) / 1000)
        if (err instanceof RejectionError) {
          w.reply?.(err)
          return undefined
        }
        throw crashed(w, err)
      }
      if (isThenable(value)) {
        if (timer !== undefined) w.t0 = t0
        return value
      }
      timer?.observe((performance.now() - t0) / 1000)
      w.reply?.(undefined, value)
      return undefined
    }

    const timed = (w: Wrapped): void => {
      if (w.t0 !== undefined) rec.timer?.observe((performance.now() - w.t0) / 1000)
    }

    const settle = async (w: Wrapped, pending: PromiseLike<unknown>): Promise<void> => {
      let value: unknown
      try {
        value = await pending
      } catch (err) {
        timed(w)
        if (err instanceof RejectionError) {
          w.reply?.(err)
          return
        }
        throw crashed(w, err)
      }
      timed(w)
      w.reply?.(undefined, value)
    }

    const drain = async (state: Behaviour<ProtocolSpec>): Promise<void> => {
      for (let n = 0; n < DRAIN_BUDGET; n++) {
        const w = takeNext(rec)
        if (w === undefined) break
        const pending = step(state, w)
        if (pending !== undefined) await settle(w, pending)
      }
    }

    const handle = async (state: Behaviour<ProtocolSpec> | undefined, m: Wrapped | Control): Promise<Behaviour<ProtocolSpec> | undefined> => {
      if (state === undefined) throw new ActorCrashedError(`${path} has no behaviour (its factory failed)`)
      const c = m as Control
      if (c.crash !== undefined) throw c.crash
      if (c.awaiting !== undefined) await settle(c.awaiting.w, c.awaiting.pending)
      await drain(state)
      rec.scheduled = false
      scheduleDrain(rec)
      return state
    }

    rec.drainInline = () => {
      const state = rec.behaviour
      if (state === undefined || rec.nactRef === undefined) {
        scheduleDrain(rec)
        return
      }
      rec.scheduled = true
      for (let n = 0; n < DRAIN_BUDGET; n++) {
        const w = takeNext(rec)
        if (w === undefined) break
        let pending: PromiseLike<unknown> | undefined
        try {
          pending = step(state, w)
        } catch (err) {
          nact.dispatch(rec.nactRef, { crash: err } satisfies Control as never)
          return
        }
        if (pending !== undefined) {
          // settle() awaits it only on nact's next turn (a setImmediate away): a handler that
          // rejects before then would count as an unhandled rejection, which ends the process.
          pending.then(undefined, () => {})
          nact.dispatch(rec.nactRef, { awaiting: { w, pending } } satisfies Control as never)
          return
        }
      }
      rec.scheduled = false
      scheduleDrain(rec)
    }

    const resumeDraining = (): void => {
      setImmediate(() => {
        rec.scheduled = false
        scheduleDrain(rec)
      })
    }

    const onCrash = async (msg: Wrapped | undefined, err: unknown, sctx: Record<string, unknown>, child?: unknown): Promise<unknown> => {
      stats.crashes++
      void msg
      const decision = supervisor.decide()
      const type = err instanceof CrashOf ? err.type : undefined
      if (err instanceof CrashOf) err = err.cause
      const fields = { err, type, decision: decision.action, ...(child === undefined ? {} : { escalatedBy: (child as { name?: string }).name }) }
      rec.log.error(fields, child === undefined ? 'actor crashed' : 'child escalated a failure')
      switch (decision.action) {
        case 'resume':
          if (child === undefined) {
            resumeDraining()
            return sctx.resume
          }
          stats.restarts++
          stopDescendants(path)
          resumeDraining()
          return sctx.reset
        case 'restart':
          stats.restarts++
          if (decision.delayMs > 0) await sleep(clock, decision.delayMs)
          if (rec.stopped) return sctx.stop
          stopDescendants(path)
          resumeDraining()
          return sctx.reset
        case 'stop':
          stopDescendants(path)
          rec.stopped = true
          return sctx.stop
        case 'escalate':
          if (parent === null) {
            stopDescendants(path)
            rec.stopped = true
            const fatal = err instanceof Error ? err : new Error(String(err))
            for (const cb of fatalHandlers) cb(fatal)
            return sctx.stop
          }
          return sctx.escalate
        default: {
          const never: never = decision
          throw new TypeError(`unknown decision ${JSON.stringify(never)}`)
        }
      }
    }

    const afterStop = (state: Behaviour<ProtocolSpec> | undefined): void => {
      rec.stopped = true
      if (records.get(path) === rec) records.delete(path)
      releaseBehaviour(state ?? rec.behaviour)
      rec.behaviour = undefined
      for (let w = takeNext(rec); w !== undefined; w = takeNext(rec)) {
        w.reply?.(new ActorStoppedError(`${path} stopped before handling ${w.msg.type}`, { path }))
      }
      rec.log.debug('actor stopped')
    }

    records.set(path, rec)
    try {
      nact.spawn(parentNact as nact.Ref<never>, handle as never, name, { initialStateFunc, onCrash, afterStop } as never)
    } catch (err) {
      records.delete(path)
      throw err
    }
    return self
  }

  const ask = async (host: string, path: string, msg: { type: string }, opts: AskOptions | undefined, validate: boolean): Promise<unknown> => {
    const timeoutMs = opts?.timeoutMs ?? defaultTimeout
    if (host !== hostId) {
      return await remoting.ask(host, path, msg.type, withoutType(msg), { timeoutMs, from: opts?.from ?? '' })
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
      remoting.dispatch(to.host, to.path, msg.type, withoutType(msg), opts?.from ?? '')
    },
    async ask (to, msg, opts) {
      return await ask(to.host, to.path, msg, opts, false) as never
    },
    async askUntyped (host, path, type, body, opts) {
      if (host !== hostId) return await remoting.ask(host, path, type, body, { timeoutMs: opts?.timeoutMs ?? defaultTimeout, from: opts?.from ?? '' })
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidArgumentError(`body of ${type} must be an object`, { type })
      return await ask(host, path, { ...body, type }, opts, true)
    },
    deliverExternal,
    has: (path) => { const r = records.get(path); return r !== undefined && !r.stopped },
    actors: () => [...records.values()].filter(r => !r.stopped).map(r => r.path).sort(),
    onFatal (cb) { fatalHandlers.push(cb) },
    mailboxes: () => [...records.values()].filter(r => !r.stopped).map(r => ({ path: r.path, depth: r.queue.length - r.head }))
  }
  return system
}
