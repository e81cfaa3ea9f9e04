import { randomInt } from 'node:crypto'
import type { ValuesDecoder } from './flat-body.js'

/**
 * Most templates kept per peer, either way: a bound against a peer that defines them without end.
 * Past it, messages simply go untemplated.
 */
export const MAX_TEMPLATES = 1024

/**
 * A template of version 3 of the compact envelope: what a stream of messages from one actor to
 * another of one flat type repeats (both paths, the type, the field names). Its first messages
 * define it in full, with a number the sender picked and the sender table's nonce; the receiver
 * learns it and says so (a `learned` frame naming the nonce and numbers); from then on the
 * sender writes the number and the fields' values alone. Nothing is referred to before the
 * receiver said it has it, so a frame lost, skipped or failed never puts the two ends out of
 * step; numbers are never reused by a sender, and a receiver that does not know one (it
 * restarted) answers with a typed error that makes the sender start its table afresh.
 */
export interface SentTemplate {
  readonly ref: number
  readonly to: string
  readonly from: string
  readonly type: string
  confirmed: boolean
}

/** The templates of the messages this host sends to one peer. */
export interface SenderTemplates {
  /** This table's nonce (random per table and reset), sent with each definition. */
  readonly nonce: number
  /** The template of messages to `to` from `from` of `type`, made on first use; undefined when the table is full. */
  entry: (to: string, from: string, type: string) => SentTemplate | undefined
  /** The peer learned these templates (ignored unless `nonce` is this table's). */
  confirm: (nonce: number, refs: readonly number[]) => void
  /** Whether `ref` is a template of the table as it is now (not of one before a reset). */
  has: (ref: number) => boolean
  /** Forgets every template (a new connection, or the peer no longer knows them): a new nonce, numbers go on from where they were. */
  reset: () => void
}

export function createSenderTemplates (): SenderTemplates {
  let nonce = randomInt(0, 0x100000000)
  let next = 1
  let byKey = new Map<string, SentTemplate>()
  let byRef = new Map<number, SentTemplate>()
  let last: SentTemplate | undefined
  return {
    get nonce () { return nonce },
    entry (to, from, type) {
      const l = last
      if (l !== undefined && l.to === to && l.from === from && l.type === type) return l
      const key = `${to}\n${from}\n${type}`
      let e = byKey.get(key)
      if (e === undefined) {
        if (byKey.size >= MAX_TEMPLATES) return undefined
        e = { ref: next++, to, from, type, confirmed: false }
        byKey.set(key, e)
        byRef.set(e.ref, e)
      } else if (e.to !== to || e.from !== from || e.type !== type) {
        return undefined
      }
      last = e
      return e
    },
    confirm (n, refs) {
      if (n !== nonce) return
      for (const r of refs) {
        const e = byRef.get(r)
        if (e !== undefined) e.confirmed = true
      }
    },
    has: (ref) => byRef.has(ref),
    reset () {
      nonce = randomInt(0, 0x100000000)
      byKey = new Map()
      byRef = new Map()
      last = undefined
    }
  }
}

/** A template as its receiver keeps it. */
export interface ReceivedTemplate {
  readonly to: string
  readonly from: string
  readonly type: string
  readonly decode: ValuesDecoder
}

/** The templates one peer defined for this host. */
export interface ReceiverTemplates {
  get: (ref: number) => ReceivedTemplate | undefined
  /**
   * Learns a definition, read with `decode` (the values decoder of this host's own codec for the
   * type: no code is made for what a peer defines); a nonce other than the table's starts the
   * table afresh (the peer's table was reset, or it is a new process). False when it was not
   * learned (the table is full): the peer is then never told it was.
   */
  learn: (nonce: number, ref: number, to: string, from: string, type: string, decode: ValuesDecoder) => boolean
  readonly size: number
}

export function createReceiverTemplates (): ReceiverTemplates {
  let nonce = -1
  const byRef = new Map<number, ReceivedTemplate>()
  return {
    get: (ref) => byRef.get(ref),
    learn (n, ref, to, from, type, decode) {
      if (n !== nonce) {
        byRef.clear()
        nonce = n
      }
      const known = byRef.get(ref)
      if (known !== undefined) return known.to === to && known.from === from && known.type === type
      if (byRef.size >= MAX_TEMPLATES) return false
      byRef.set(ref, { to, from, type, decode })
      return true
    },
    get size () { return byRef.size }
  }
}
