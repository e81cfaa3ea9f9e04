import { ControlBudgetError } from '../errors/errors.js'

export interface ByteBudgetInit {
  /** Most bytes one connection may hold (an incomplete frame and the chunk that extends it). */
  perConnectionBytes: number
  /** Most bytes all connections together may hold. */
  totalBytes: number
}

/** One connection's share of a {@link ByteBudget}. */
export interface ByteAccount {
  /**
   * Sets what this connection holds to `bytes`; when that is over the connection's budget or
   * the total, nothing changes and the error says which.
   */
  hold: (bytes: number) => ControlBudgetError | undefined
  /** Returns what the connection held (it closed). */
  close: () => void
}

/** What a budget holds now and how often it said no. */
export interface ByteBudgetStats {
  heldBytes: number
  connections: number
  /** Times a connection went over its budget or the total. */
  exceeded: number
}

/**
 * Bytes held for connections that have not yet sent a whole frame, bounded per connection and
 * in total, so half-sent frames on many connections cannot grow memory without bound.
 */
export interface ByteBudget {
  open: () => ByteAccount
  stats: () => ByteBudgetStats
}

export function createByteBudget (init: ByteBudgetInit): ByteBudget {
  let held = 0
  let connections = 0
  let exceeded = 0
  return {
    open () {
      let mine = 0
      let open = true
      connections++
      return {
        hold (bytes) {
          if (!open) return undefined
          if (bytes > init.perConnectionBytes) {
            exceeded++
            return new ControlBudgetError(`a control connection would hold ${bytes} bytes of unfinished frames, over its ${init.perConnectionBytes}-byte budget`, { bytes, budget: init.perConnectionBytes, scope: 'connection' })
          }
          const total = held - mine + bytes
          if (total > init.totalBytes) {
            exceeded++
            return new ControlBudgetError(`control connections would hold ${total} bytes of unfinished frames, over the ${init.totalBytes}-byte budget of all of them`, { bytes: total, budget: init.totalBytes, scope: 'total' })
          }
          held = total
          mine = bytes
          return undefined
        },
        close () {
          if (!open) return
          open = false
          held -= mine
          mine = 0
          connections--
        }
      }
    },
    stats: () => ({ heldBytes: held, connections, exceeded })
  }
}
