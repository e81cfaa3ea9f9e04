/**
 * Base class of every error roost raises on purpose. `code` is stable across versions and is
 * what travels on the wire; `message` is for people.
 */
export class RoostError extends Error {
  /**
   * Instances capture no stack trace. Set for errors about someone else's input (a peer's frame,
   * a caller's argument, a refused hello): they are raised once per bad input, so a flood of it
   * must not pay for stacks nobody reads (7.8 µs with a stack, 0.6 µs without).
   */
  static readonly stackless: boolean = false
  readonly code: string
  readonly details?: Record<string, unknown>

  constructor (code: string, message: string, details?: Record<string, unknown>) {
    const bare = (new.target as typeof RoostError).stackless
    const limit = Error.stackTraceLimit
    if (bare) Error.stackTraceLimit = 0
    try {
      super(message)
    } finally {
      if (bare) Error.stackTraceLimit = limit
    }
    this.code = code
    this.name = new.target.name
    if (details !== undefined) this.details = details
  }

  /** The form an error takes in a `sys.error` envelope or a control-socket reply. */
  toWire (): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

/**
 * A rejection is an error an actor returns to its caller on purpose (an illegal transition, a
 * bad argument): the actor stays as it was and its supervisor is not involved. It is an answer
 * about the caller's input, so it is {@link RoostError.stackless}.
 */
export class RejectionError extends RoostError {
  static override readonly stackless: boolean = true
}

/** An error as it crosses a process boundary. */
export interface WireError {
  code: string
  message: string
  details?: Record<string, unknown>
}

type ErrorClass = new (message: string, details?: Record<string, unknown>) => RoostError

const registry = new Map<string, ErrorClass>()

/** Lets `errorFromWire` rebuild instances of this class from their code (one class per code). */
export function registerErrorCode (code: string, cls: ErrorClass): void {
  const known = registry.get(code)
  if (known !== undefined && known !== cls) throw new Error(`error code ${code} is already taken by ${known.name}`)
  registry.set(code, cls)
}

/** An error received from another process, as the closest local class. */
export class RemoteError extends RoostError {}

export function errorFromWire (wire: WireError): RoostError {
  const cls = registry.get(wire.code)
  // A stack here would be this function's, not the remote one's: none is captured.
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return cls !== undefined ? new cls(wire.message, wire.details) : new RemoteError(wire.code, wire.message, wire.details)
  } finally {
    Error.stackTraceLimit = limit
  }
}

export function isWireError (value: unknown): value is WireError {
  return typeof value === 'object' && value !== null &&
    typeof (value as WireError).code === 'string' &&
    typeof (value as WireError).message === 'string'
}

/** Any thrown value as a wire error; non-roost errors become `ERR_INTERNAL`. */
export function toWireError (err: unknown): WireError {
  if (err instanceof RoostError) return err.toWire()
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'ERR_INTERNAL', message }
}
