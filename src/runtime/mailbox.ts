import type { Sender } from './actor.js'

/**
 * Reply callback carried with a message inside this process; the system passes the letter it
 * answers, so one function can answer many letters (remoting's, for messages from another host).
 */
export type ReplyFn = (err: Error | undefined, value?: unknown, letter?: Letter) => void

/** One queued message, with where its answer goes and who sent it. */
export interface Letter {
  msg: { type: string }
  reply?: ReplyFn
  sender?: Sender
  /** For a message from another host: its id there, which an answer refers to. */
  re?: number
  /** When handling began (performance.now), while an asynchronous handler runs and handling is timed. */
  t0?: number
}

/** A letter for `msg`; `re` is set only when there is one, so letters keep one shape. */
export function letterOf (msg: { type: string }, reply: ReplyFn | undefined, sender: Sender | undefined, re: number | undefined): Letter {
  return re === undefined ? { msg, reply, sender } : { msg, reply, sender, re }
}

/** What {@link Mailbox.run} did: how many letters it took, and the one whose handler is still running, if any. */
export interface RunResult {
  handled: number
  /** The handler of this letter returned a promise: settle it before the next letter. */
  awaiting: { letter: Letter, pending: PromiseLike<unknown> } | undefined
}

/** A fresh result for {@link Mailbox.run} to fill (a caller keeps one and passes it each time). */
export function runResult (): RunResult {
  return { handled: 0, awaiting: undefined }
}

/**
 * An actor's queue of letters, in arrival order, and the one loop that hands them to the
 * actor's handlers. The actor system runs that loop either on the caller's stack (messages from
 * outside the process) or from nact's scheduler; both share it, so both keep the same order and
 * one-message-at-a-time rule.
 */
export interface Mailbox {
  push: (letter: Letter) => void
  /** The next letter, or undefined when none waits. */
  take: () => Letter | undefined
  /** Letters waiting. */
  size: () => number
  /**
   * Hands up to `budget` letters to `step` in order, synchronously, and says in `out` what it did.
   * Stops at the first whose handler returns a promise (`out.awaiting`, counted as handled): the
   * caller settles it before running again. Whatever `step` throws propagates, with the letter
   * already taken.
   */
  run: (budget: number, step: (letter: Letter) => PromiseLike<unknown> | undefined, out: RunResult) => RunResult
}

const MIN_SLOTS = 16
/** A ring grown past this by a burst goes back to {@link MIN_SLOTS} once the burst is drained. */
const KEEP_SLOTS = 1024

/**
 * A ring of letters that doubles when full: a message in and out allocates nothing (a queue that
 * emptied and started again from a fresh array grew a new backing store for nearly every message
 * an actor got from another host), and memory goes back once a burst is drained.
 */
export function createMailbox (): Mailbox {
  let slots = new Array<Letter | undefined>(MIN_SLOTS).fill(undefined)
  let mask = MIN_SLOTS - 1
  let head = 0
  let count = 0

  const grow = (): void => {
    const bigger = new Array<Letter | undefined>(slots.length * 2).fill(undefined)
    for (let i = 0; i < count; i++) bigger[i] = slots[(head + i) & mask]
    slots = bigger
    mask = bigger.length - 1
    head = 0
  }

  const take = (): Letter | undefined => {
    if (count === 0) return undefined
    const letter = slots[head]
    slots[head] = undefined
    head = (head + 1) & mask
    count--
    if (count === 0 && slots.length > KEEP_SLOTS) {
      slots = new Array<Letter | undefined>(MIN_SLOTS).fill(undefined)
      mask = MIN_SLOTS - 1
      head = 0
    }
    return letter
  }

  return {
    push (letter) {
      if (count === slots.length) grow()
      slots[(head + count) & mask] = letter
      count++
    },
    take,
    size: () => count,
    run (budget, step, out) {
      out.handled = 0
      out.awaiting = undefined
      while (out.handled < budget) {
        const letter = take()
        if (letter === undefined) break
        out.handled++
        const pending = step(letter)
        if (pending !== undefined) {
          out.awaiting = { letter, pending }
          break
        }
      }
      return out
    }
  }
}
