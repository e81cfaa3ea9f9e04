import * as nact from 'nact'
import type { ProtocolSpec } from '../codec/protocol.js'
import { ActorCrashedError, ActorStoppedError } from '../errors/errors.js'
import { RejectionError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { ActorContext, ActorDefinition, Behaviour, Sender } from './actor.js'
import { sleep, type Clock } from './clock.js'
import { createMailbox, letterOf, runResult, type Letter, type Mailbox, type ReplyFn } from './mailbox.js'
import { createSupervisor } from './policy.js'
import { childPath, ref, type Ref } from './ref.js'
import type { ActorProtocol } from './senders.js'
import type { ActorObserver, HandlingTimer } from './observers.js'
import type { ActorSystem, SystemStats } from './system.js'

/** Carries a handler's error through nact with the type of the message that caused it. */
class CrashOf extends Error {
  constructor (override readonly cause: unknown, readonly type: string) {
    super(cause instanceof Error ? cause.message : String(cause))
  }
}

/** The only messages nact itself carries: drain the queue, fail, or finish an async handler. */
export const DRAIN = Object.freeze({ drain: true })

interface Control {
  drain?: true
  crash?: unknown
  awaiting?: { letter: Letter, pending: PromiseLike<unknown> }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'

/**
 * Messages handled in one drain before yielding to I/O. nact would spend an event-loop turn
 * per message; draining our own queue in batches keeps actor semantics (one message at a time,
 * in order) at a fraction of the cost.
 */
export const DRAIN_BUDGET = 256

/** One actor as the system keeps it: its place in the tree, its mailbox and its nact actor. */
export interface ActorRecord {
  path: string
  parent: string | null
  protocol: ActorProtocol<ProtocolSpec>
  nactRef: nact.Ref<Letter> | undefined
  behaviour: Behaviour<ProtocolSpec> | undefined
  stopped: boolean
  log: Logger
  mailbox: Mailbox
  /** The actor is busy: a drain runs inline, or a control message is pending or running in nact. */
  scheduled: boolean
  /** Handles queued messages now, on the caller's stack (for messages from outside the process). */
  drainInline: () => void
  /**
   * Handles one message now, on the caller's stack, when nothing is queued and the actor is idle
   * (a message from outside the process): no letter is made unless its handler goes asynchronous.
   */
  handleNow: (msg: { type: string }, reply: ReplyFn | undefined, sender: Sender | undefined, re: number | undefined) => void
  /** The family's handling-time timer (when the system has an observer). */
  timer: HandlingTimer | undefined
}

/** What a cell needs of the system that hosts it. */
export interface CellEnv {
  hostId: string
  clock: Clock
  logger: Logger
  records: Map<string, ActorRecord>
  stats: SystemStats
  fatalHandlers: Array<(err: Error) => void>
  system: ActorSystem
  spawn: <S extends ProtocolSpec>(parent: string | null, name: string, def: ActorDefinition<S>) => Ref<S>
  stopDescendants: (path: string) => void
  scheduleDrain: (rec: ActorRecord) => void
  localSender: Sender
  /** Metrics: handling times per actor family. */
  actors?: ActorObserver
}

/**
 * Spawns one actor under nact: its record (registered in `env.records`), the handler loop that
 * runs its mailbox (on the caller's stack for messages from outside, from nact's scheduler
 * otherwise), and its supervision (resume, restart with back-off, stop, escalate) by its policy.
 */
export function spawnCell<S extends ProtocolSpec> (parentNact: nact.Ref<unknown>, parent: string | null, name: string, path: string, def: ActorDefinition<S>, env: CellEnv): Ref<S> {
  const { hostId, clock, logger, records, stats, fatalHandlers, system, spawn, stopDescendants, scheduleDrain, localSender } = env
  const self = ref<S>(hostId, path)
  const rec: ActorRecord = {
    path,
    parent,
    protocol: def.protocol as unknown as ActorProtocol<ProtocolSpec>,
    nactRef: undefined,
    behaviour: undefined,
    stopped: false,
    log: logger.child({ actor: path }),
    mailbox: createMailbox(),
    scheduled: false,
    drainInline: () => {},
    handleNow: () => {},
    timer: env.actors?.timerFor(path)
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

  const initialStateFunc = (nctx: { self: nact.Ref<Letter> }): Behaviour<ProtocolSpec> => {
    rec.nactRef = nctx.self
    releaseBehaviour(rec.behaviour)
    rec.behaviour = undefined
    const behaviour = def.create(ctx) as unknown as Behaviour<ProtocolSpec>
    rec.behaviour = behaviour
    return behaviour
  }

  const crashed = (w: Letter, err: unknown): CrashOf => {
    w.reply?.(new ActorCrashedError(`${path} crashed handling ${w.msg.type}: ${(err as Error)?.message ?? String(err)}`, { path, type: w.msg.type }), undefined, w)
    return new CrashOf(err, w.msg.type)
  }

  /**
   * Runs one message. Returns a promise when the handler is asynchronous (the caller awaits
   * it before the next message); throws {@link CrashOf} when the actor must be supervised.
   */
  const step = (state: Behaviour<ProtocolSpec>, w: Letter): PromiseLike<unknown> | undefined => {
    const handler = state.handlers[w.msg.type] as ((m: unknown, c: unknown, s: Sender) => unknown) | undefined
    if (handler === undefined) {
      w.reply?.(new ActorCrashedError(`${path} has no handler for ${w.msg.type}`), undefined, w)
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
        w.reply?.(err, undefined, w)
        return undefined
      }
      throw crashed(w, err)
    }
    if (isThenable(value)) {
      if (timer !== undefined) w.t0 = t0
      return value
    }
    timer?.observe((performance.now() - t0) / 1000)
    w.reply?.(undefined, value, w)
    return undefined
  }

  const timed = (w: Letter): void => {
    if (w.t0 !== undefined) rec.timer?.observe((performance.now() - w.t0) / 1000)
  }

  const settle = async (w: Letter, pending: PromiseLike<unknown>): Promise<void> => {
    let value: unknown
    try {
      value = await pending
    } catch (err) {
      timed(w)
      if (err instanceof RejectionError) {
        w.reply?.(err, undefined, w)
        return
      }
      throw crashed(w, err)
    }
    timed(w)
    w.reply?.(undefined, value, w)
  }

  // The behaviour the running drain hands letters to, and one step function and result for every
  // drain: a message handled allocates nothing here.
  let current: Behaviour<ProtocolSpec> | undefined
  const stepCurrent = (letter: Letter): PromiseLike<unknown> | undefined => step(current as Behaviour<ProtocolSpec>, letter)
  const ran = runResult()

  const drain = async (state: Behaviour<ProtocolSpec>): Promise<void> => {
    for (let left = DRAIN_BUDGET; left > 0;) {
      current = state
      const r = rec.mailbox.run(left, stepCurrent, ran)
      left -= r.handled
      const awaiting = r.awaiting
      if (awaiting === undefined) break
      await settle(awaiting.letter, awaiting.pending)
    }
  }

  const handle = async (state: Behaviour<ProtocolSpec> | undefined, m: Letter | Control): Promise<Behaviour<ProtocolSpec> | undefined> => {
    if (state === undefined) throw new ActorCrashedError(`${path} has no behaviour (its factory failed)`)
    const c = m as Control
    if (c.crash !== undefined) throw c.crash
    if (c.awaiting !== undefined) await settle(c.awaiting.letter, c.awaiting.pending)
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
    let awaiting: Control['awaiting']
    try {
      current = state
      awaiting = rec.mailbox.run(DRAIN_BUDGET, stepCurrent, ran).awaiting
    } catch (err) {
      nact.dispatch(rec.nactRef, { crash: err } satisfies Control as never)
      return
    }
    if (awaiting !== undefined) {
      // settle() awaits it only on nact's next turn (a setImmediate away): a handler that
      // rejects before then would count as an unhandled rejection, which ends the process.
      awaiting.pending.then(undefined, () => {})
      nact.dispatch(rec.nactRef, { awaiting } satisfies Control as never)
      return
    }
    rec.scheduled = false
    scheduleDrain(rec)
  }

  /** The letter {@link ActorRecord.handleNow} fills: read only while its handler runs synchronously. */
  const scratch: Letter = { msg: DRAIN as unknown as { type: string }, reply: undefined, sender: undefined, re: undefined, t0: undefined }
  const clearScratch = (): void => {
    scratch.reply = scratch.sender = scratch.re = scratch.t0 = undefined
    scratch.msg = DRAIN as unknown as { type: string }
  }
  /** The scratch letter's contents as a letter of its own (for a handler that went asynchronous or crashed). */
  const release = (): Letter => {
    const kept: Letter = { msg: scratch.msg, reply: scratch.reply, sender: scratch.sender, re: scratch.re, t0: scratch.t0 }
    clearScratch()
    return kept
  }

  rec.handleNow = (msg, reply, sender, re) => {
    const state = rec.behaviour
    if (state === undefined || rec.nactRef === undefined) {
      rec.mailbox.push(letterOf(msg, reply, sender, re))
      scheduleDrain(rec)
      return
    }
    rec.scheduled = true
    scratch.msg = msg
    scratch.reply = reply
    scratch.sender = sender
    scratch.re = re
    let pending: PromiseLike<unknown> | undefined
    try {
      pending = step(state, scratch)
    } catch (err) {
      clearScratch()
      nact.dispatch(rec.nactRef, { crash: err } satisfies Control as never)
      return
    }
    if (pending !== undefined) {
      pending.then(undefined, () => {})
      nact.dispatch(rec.nactRef, { awaiting: { letter: release(), pending } } satisfies Control as never)
      return
    }
    clearScratch()
    rec.scheduled = false
    scheduleDrain(rec)
  }

  const resumeDraining = (): void => {
    setImmediate(() => {
      rec.scheduled = false
      scheduleDrain(rec)
    })
  }

  const onCrash = async (msg: Letter | undefined, err: unknown, sctx: Record<string, unknown>, child?: unknown): Promise<unknown> => {
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
    for (let w = rec.mailbox.take(); w !== undefined; w = rec.mailbox.take()) {
      w.reply?.(new ActorStoppedError(`${path} stopped before handling ${w.msg.type}`, { path }), undefined, w)
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
