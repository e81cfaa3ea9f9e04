import { createReceiverTemplates, createSenderTemplates, type ReceiverTemplates, type SenderTemplates } from '../codec/envelope-templates.js'
import { perHost } from './per-host.js'

/**
 * Remoting's side of envelope version 3 (envelope-templates.ts): per peer, the templates of what
 * this host sends it and of what it sends this host; the reports of templates learned, one
 * `learned` frame per peer and turn; and the resets (a connection came or went, or the peer
 * said it does not know a template it had learned: it restarted).
 */
export interface PeerTemplates {
  /** The templates of messages to `host`. */
  to: (host: string) => SenderTemplates
  /** The templates `host` defined here. */
  from: (host: string) => ReceiverTemplates
  /** A frame from `host` defined template `ref` of table `nonce` and it was learned: reported back this turn (again while the sender goes on defining it, so a lost report is made up for). */
  learned: (host: string, nonce: number, ref: number) => void
  /** The body of a `learned` frame from `host`: `[nonce, ...refs]`; anything else is ignored. */
  confirmed: (host: string, body: unknown) => void
  /** `host` does not know template `ref`: its templates start afresh if `ref` is of the table as it is now (reports about a table from before a reset change nothing). Says whether they did. */
  unknown: (host: string, ref: unknown) => boolean
  /** The templates to `host` start afresh (its connection came or went). */
  forget: (host: string) => void
}

export interface PeerTemplatesComponents {
  /** Sends a `learned` frame with this body to `host`. */
  report: (host: string, body: number[]) => void
}

export function createPeerTemplates (components: PeerTemplatesComponents): PeerTemplates {
  const sent = new Map<string, SenderTemplates>()
  const heard = new Map<string, ReceiverTemplates>()
  // The tables last used, so a stream to or from one host looks nothing up.
  let lastSentHost = ''
  let lastSent: SenderTemplates | undefined
  let lastHeardHost = ''
  let lastHeard: ReceiverTemplates | undefined
  const toReport = new Map<string, { nonce: number, refs: Set<number> }>()
  let reportQueued = false

  const to = (host: string): SenderTemplates => {
    if (lastSent !== undefined && lastSentHost === host) return lastSent
    lastSent = perHost(sent, host, createSenderTemplates)
    lastSentHost = host
    return lastSent
  }

  const reportAll = (): void => {
    reportQueued = false
    for (const [host, { nonce, refs }] of toReport) components.report(host, [nonce, ...refs])
    toReport.clear()
  }

  const forget = (host: string): void => {
    sent.get(host)?.reset()
    if (lastSentHost === host) lastSent = undefined
  }

  return {
    to,
    from (host) {
      if (lastHeard !== undefined && lastHeardHost === host) return lastHeard
      lastHeard = perHost(heard, host, createReceiverTemplates)
      lastHeardHost = host
      return lastHeard
    },
    learned (host, nonce, ref) {
      let r = toReport.get(host)
      if (r === undefined || r.nonce !== nonce) {
        r = { nonce, refs: new Set() }
        toReport.set(host, r)
      }
      r.refs.add(ref)
      if (!reportQueued) {
        reportQueued = true
        queueMicrotask(reportAll)
      }
    },
    confirmed (host, body) {
      if (!Array.isArray(body) || body.length < 2 || !body.every(r => typeof r === 'number')) return
      to(host).confirm(body[0] as number, body.slice(1) as number[])
    },
    unknown (host, ref) {
      if (typeof ref !== 'number' || sent.get(host)?.has(ref) !== true) return false
      forget(host)
      return true
    },
    forget
  }
}
