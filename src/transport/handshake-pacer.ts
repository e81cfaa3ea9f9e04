import { AdmissionError } from '../errors/errors.js'

/** Defaults: inbound Noise handshakes per event-loop turn, and how many may wait. */
export const HANDSHAKES_PER_TURN = 4
export const MAX_WAITING_HANDSHAKES = 256

export interface HandshakePacerInit {
  perTurn?: number
  maxWaiting?: number
}

/** Counters of a pacer, for stats. */
export interface HandshakePacerStats {
  paced: number
  refused: number
  waiting: number
}

export interface HandshakePacer {
  /** Resolves when this handshake may do its work; rejects with `ERR_ADMISSION` when too many wait. */
  acquire: () => Promise<void>
  stats: () => HandshakePacerStats
}

/**
 * Spreads inbound Noise handshakes over event-loop turns. Each costs ~1 ms of Diffie-Hellman and
 * key derivation on the main thread, and a burst of connections (or an attacker opening them
 * with fresh keys) lands in one poll phase: without pacing, 16 of them stall the agent ~40 ms and
 * its peers' probes time out. At most `perTurn` run per turn; the rest wait for the next turns
 * (timers and probe replies run in between); past `maxWaiting` they are refused, and their
 * clients retry.
 */
export function createHandshakePacer (init: HandshakePacerInit = {}): HandshakePacer {
  const perTurn = init.perTurn ?? HANDSHAKES_PER_TURN
  const maxWaiting = init.maxWaiting ?? MAX_WAITING_HANDSHAKES
  const waiting: Array<() => void> = []
  let used = 0
  let scheduled = false
  let paced = 0
  let refused = 0
  const nextTurn = (): void => {
    scheduled = false
    used = 0
    while (used < perTurn && waiting.length > 0) {
      used++
      waiting.shift()?.()
    }
    if (used > 0) schedule()
  }
  const schedule = (): void => {
    if (scheduled) return
    scheduled = true
    setImmediate(nextTurn)
  }
  return {
    async acquire () {
      if (used < perTurn && waiting.length === 0) {
        used++
        schedule()
        return
      }
      if (waiting.length >= maxWaiting) {
        refused++
        throw new AdmissionError(`too many inbound handshakes waiting (${waiting.length})`)
      }
      paced++
      await new Promise<void>(resolve => { waiting.push(resolve); schedule() })
    },
    stats: () => ({ paced, refused, waiting: waiting.length })
  }
}

/** What hyperdht's server builds per inbound handshake (its `createHandshake` hook). */
interface NoiseHandshakeLike { recv: (buf: Buffer) => unknown }
interface ServerLike { createHandshake: (keyPair: unknown, remotePublicKey: unknown) => NoiseHandshakeLike }

/** Makes a hyperdht server pace the expensive first step of every inbound handshake. */
export function paceServerHandshakes (server: ServerLike, pacer: HandshakePacer): void {
  const create = server.createHandshake
  server.createHandshake = (keyPair, remotePublicKey) => {
    const hs = create(keyPair, remotePublicKey)
    const recv = hs.recv.bind(hs)
    hs.recv = async (buf: Buffer) => {
      await pacer.acquire()
      return recv(buf)
    }
    return hs
  }
}
