/** Receives the time an actor spent on one message (seconds), from dequeue to its reply. */
export interface HandlingTimer {
  observe: (seconds: number) => void
}

/**
 * What the actor system reports for metrics: it asks once per spawned actor for the timer of
 * that actor's family (so handling a message allocates nothing) and reads mailbox depths from
 * `ActorSystem.mailboxes()` on scrape.
 */
export interface ActorObserver {
  timerFor: (path: string) => HandlingTimer
}

/** Why a message between hosts failed: answered with an error, not sent, or not decodable. */
export type MessageFailure = 'rejected' | 'undelivered' | 'malformed'

/** Counts the actor messages (and their encoded bytes) this host exchanges with each peer, by type; remoting calls it per message. */
export interface MessageObserver {
  sent: (host: string, type: string, bytes: number) => void
  received: (host: string, type: string, bytes: number) => void
  failed: (host: string, type: string, why: MessageFailure) => void
}
