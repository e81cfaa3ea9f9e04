import { transferHandlers, type TransferHandler } from 'comlink'
import { errorFromWire, RoostError } from '../errors/roost-error.js'

let installed = false

/**
 * Comlink sends thrown errors as name/message/stack only; this keeps roost errors' stable
 * `code` and details across the control socket, so the CLI can print and exit by code.
 */
export function installComlinkErrorHandler (): void {
  if (installed) return
  installed = true
  const original = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, { isError: boolean, value: unknown }>
  const handler: TransferHandler<{ value: unknown }, { isError: boolean, value: unknown, roost?: boolean }> = {
    canHandle: (value: unknown): value is { value: unknown } => original.canHandle(value),
    serialize (thrown) {
      const err = thrown.value
      if (err instanceof RoostError) return [{ isError: true, roost: true, value: err.toWire() }, []]
      return original.serialize(thrown)
    },
    deserialize (serialized) {
      if (serialized.roost === true) throw errorFromWire(serialized.value as { code: string, message: string })
      return original.deserialize(serialized)
    }
  }
  transferHandlers.set('throw', handler as TransferHandler<unknown, unknown>)
}
