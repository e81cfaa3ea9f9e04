import type { SendFailure } from './transport.js'

/**
 * Sends handed to another thread whose fate is not known yet: each gets the next id (from 1;
 * 0 means "no one to tell"), and is settled once, as delivered to a connection or failed. Ids are
 * given in order and mostly settled in order, so they live in plain arrays from the oldest
 * unsettled one on: no object or map entry per send, which under a flood of hundreds of
 * thousands of messages a second would all be collected (or promoted) one by one.
 */
export interface PendingSends {
  /** Registers a send whose failure `fn` is to hear of, with `token`; returns its id. */
  add: (fn: SendFailure, token: number) => number
  /** The send reached a connection: nobody is told anything. Unknown or settled ids are ignored. */
  settle: (id: number) => void
  /** The send failed: its function is called with `err` and its token (once; later calls are ignored). */
  fail: (id: number, err: Error) => void
  /** Fails every unsettled send with `err`. */
  failAll: (err: Error) => void
  /** Unsettled sends. */
  readonly size: number
}

const COMPACT_AFTER = 1024

export function createPendingSends (): PendingSends {
  /** The id of index 0. */
  let base = 1
  let head = 0
  let fns: Array<SendFailure | undefined> = []
  let tokens: number[] = []
  let size = 0

  const advance = (): void => {
    while (head < fns.length && fns[head] === undefined) head++
    if (head === fns.length) {
      base += fns.length
      head = 0
      fns = []
      tokens = []
    } else if (head > COMPACT_AFTER && head * 2 > fns.length) {
      base += head
      fns = fns.slice(head)
      tokens = tokens.slice(head)
      head = 0
    }
  }

  /** Index of a live id, or -1. */
  const indexOf = (id: number): number => {
    const i = id - base
    return i >= head && i < fns.length && fns[i] !== undefined ? i : -1
  }

  return {
    add (fn, token) {
      fns.push(fn)
      tokens.push(token)
      size++
      return base + fns.length - 1
    },
    settle (id) {
      const i = indexOf(id)
      if (i < 0) return
      fns[i] = undefined
      size--
      if (i === head) advance()
    },
    fail (id, err) {
      const i = indexOf(id)
      if (i < 0) return
      const fn = fns[i] as SendFailure
      const token = tokens[i] as number
      fns[i] = undefined
      size--
      if (i === head) advance()
      fn(err, token)
    },
    failAll (err) {
      const live: Array<[SendFailure, number]> = []
      for (let i = head; i < fns.length; i++) {
        const fn = fns[i]
        if (fn !== undefined) live.push([fn, tokens[i] as number])
      }
      base += fns.length
      head = 0
      fns = []
      tokens = []
      size = 0
      for (const [fn, token] of live) fn(err, token)
    },
    get size () { return size }
  }
}
