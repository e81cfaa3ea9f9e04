import type { Sender } from './actor.js'

/** Reply callback carried with a message inside this process. */
export type ReplyFn = (err: Error | undefined, value?: unknown) => void

/** One queued message, with where its answer goes and who sent it. */
export interface Letter {
  msg: { type: string }
  reply?: ReplyFn
  sender?: Sender
  /** When handling began (performance.now), while an asynchronous handler runs and handling is timed. */
  t0?: number
}

/** What {@link Mailbox.run} did: how many letters it took, and the one whose handler is still running, if any. */
export interface RunResult {
  handled: number
  /** The handler of this letter returned a promise: settle it before the next letter. */
  awaiting?: { letter: Letter, pending: PromiseLike<unknown> }
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
   * Hands up to `budget` letters to `step` in order, synchronously. Stops at the first whose
   * handler returns a promise (returned as `awaiting`, counted as handled): the caller settles it
   * before running again. Whatever `step` throws propagates, with the letter already taken.
   */
  run: (budget: number, step: (letter: Letter) => PromiseLike<unknown> | undefined) => RunResult
}

/** A queue that compacts as it is consumed: taking is O(1), and memory follows what still waits. */
export function createMailbox (): Mailbox {
  let queue: Array<Letter | undefined> = []
  let head = 0

  const take = (): Letter | undefined => {
    if (head >= queue.length) return undefined
    const letter = queue[head]
    queue[head] = undefined
    head++
    if (head >= queue.length) {
      queue = []
      head = 0
    } else if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head)
      head = 0
    }
    return letter
  }

  return {
    push: (letter) => { queue.push(letter) },
    take,
    size: () => queue.length - head,
    run (budget, step) {
      let handled = 0
      while (handled < budget) {
        const letter = take()
        if (letter === undefined) break
        handled++
        const pending = step(letter)
        if (pending !== undefined) return { handled, awaiting: { letter, pending } }
      }
      return { handled }
    }
  }
}
