import { defineProtocol, type MessageSpec, type Protocol, type ProtocolSpec } from '../codec/protocol.js'
import type { Sender } from './actor.js'

/**
 * Who may send a message type. The runtime checks it before the handler runs and answers any
 * other sender with `ERR_SENDER_NOT_ALLOWED`.
 *
 * - `self`: this actor only (its timers and background work reporting back to it);
 * - `owner`: the actor that spawned this one (for a root actor, code on this host outside any actor);
 * - `child`: an actor this one spawned;
 * - `host`: anything on this host: its actors, the agent process, the control socket;
 * - `member`: any admitted host of the cluster, this one included (e.g. the CLI through
 *   another host's control socket, which forwards as that host).
 *
 * The transport authenticates the sending host; the sending path is only believed from this host.
 */
export type SenderRule = 'self' | 'owner' | 'child' | 'host' | 'member'

export const SENDER_RULES: readonly SenderRule[] = ['self', 'owner', 'child', 'host', 'member']

/** A message type as an actor family declares it: body and reply schemas, and who may send it. */
export interface ActorMessageSpec extends MessageSpec {
  from: SenderRule
}

/** Message type → spec with its sender rule; a spec without `from` does not type-check. */
export type ActorProtocolSpec = Record<string, ActorMessageSpec>

/** A family's protocol with the sender rule of every message type. */
export interface ActorProtocol<S extends ProtocolSpec> extends Protocol<S> {
  /** The sender rule of a type (undefined for a type the protocol does not declare). */
  senderRule: (type: string) => SenderRule | undefined
}

/** Declares an actor family's messages; each type states `from`, who may send it. */
export function defineActorProtocol<S extends ActorProtocolSpec> (name: string, specs: S): ActorProtocol<S> {
  const protocol = defineProtocol(name, specs)
  const rules = new Map<string, SenderRule>()
  for (const [type, spec] of Object.entries(specs)) {
    if (!SENDER_RULES.includes(spec.from)) throw new TypeError(`${name}: ${type} declares unknown sender rule '${String(spec.from)}'`)
    rules.set(type, spec.from)
  }
  return {
    name: protocol.name,
    specs: protocol.specs,
    has: protocol.has,
    parse: protocol.parse,
    senderRule: (type) => rules.get(type)
  }
}

/** Where the receiving actor sits, for {@link senderAllowed}. */
export interface Receiver {
  hostId: string
  path: string
  /** Path of the actor that spawned it; null for a root actor. */
  parent: string | null
}

/** Whether `sender` may send a message of `rule` to `receiver`. */
export function senderAllowed (rule: SenderRule, sender: Sender, receiver: Receiver): boolean {
  if (rule === 'member') return true
  if (sender.host !== receiver.hostId) return false
  switch (rule) {
    case 'host': return true
    case 'self': return sender.path === receiver.path
    case 'owner': return sender.path === (receiver.parent ?? '')
    case 'child': {
      const prefix = `${receiver.path}/`
      return sender.path.startsWith(prefix) && !sender.path.includes('/', prefix.length) && sender.path.length > prefix.length
    }
    default: {
      const never: never = rule
      return never
    }
  }
}
