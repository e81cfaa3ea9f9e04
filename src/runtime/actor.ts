import type { MessageOf, MessageOfType, ProtocolSpec, ReplyOf } from '../codec/protocol.js'
import type { Logger } from '../log/logger.js'
import type { CrashPolicy } from './policy.js'
import type { Ref } from './ref.js'
import type { ActorProtocol } from './senders.js'
import type { ActorSystem } from './system.js'

/** What a running actor can see and do. */
export interface ActorContext<S extends ProtocolSpec> {
  readonly self: Ref<S>
  readonly path: string
  /** A pino child logger bound to this actor's path. */
  readonly log: Logger
  readonly system: ActorSystem
  /** Sends this actor a message as itself (what `self` sender rules accept): its timers and background work report through it. */
  tell: (msg: MessageOf<S>) => void
  /** Spawns a child under this actor; it is stopped with (and on restart of) this actor. */
  spawn: <C extends ProtocolSpec>(name: string, def: ActorDefinition<C>) => Ref<C>
  stopChild: (name: string) => void
  children: () => string[]
}

/**
 * Who sent a message: the host is the authenticated peer of the connection it came on (this
 * host for local messages), the path the sending actor's ('' for non-actor senders).
 */
export interface Sender {
  host: string
  path: string
}

/** Handles one message type and returns its reply (for a dispatch the reply is dropped). */
export type Handler<S extends ProtocolSpec, K extends keyof S & string> =
  (msg: MessageOfType<S, K>, ctx: ActorContext<S>, sender: Sender) => ReplyOf<S, K> | Promise<ReplyOf<S, K>>

/** One handler per message type of the protocol; a missing one does not compile. */
export type Handlers<S extends ProtocolSpec> = { [K in keyof S & string]: Handler<S, K> }

/** A live actor instance: its handler table and what to release when it stops or restarts. */
export interface Behaviour<S extends ProtocolSpec> {
  handlers: Handlers<S>
  stop?: () => void | Promise<void>
}

/**
 * How to make an actor: its protocol (which says who may send each message type), its crash
 * policy (mandatory), and a factory that builds a fresh behaviour at spawn and again on every
 * restart.
 */
export interface ActorDefinition<S extends ProtocolSpec> {
  protocol: ActorProtocol<S>
  policy: CrashPolicy
  create: (ctx: ActorContext<S>) => Behaviour<S>
}

export function defineActor<S extends ProtocolSpec> (def: ActorDefinition<S>): ActorDefinition<S> {
  return def
}
