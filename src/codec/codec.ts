import { Packr } from 'msgpackr'
import { MalformedFrameError } from '../errors/errors.js'

/**
 * The single msgpackr configuration of roost. Records (shared structures) are off on purpose:
 * hosts of different versions must be able to read each other's frames with no shared state.
 */
export interface Codec {
  encode: (value: unknown) => Buffer
  /** Decodes one msgpack value; throws {@link MalformedFrameError} on bad input. */
  decode: (bytes: Uint8Array) => unknown
}

export function createCodec (): Codec {
  const packr = new Packr({
    useRecords: false,
    mapsAsObjects: true,
    moreTypes: false,
    int64AsType: 'number',
    variableMapSize: true
  })
  return {
    encode: (value) => packr.pack(value),
    decode: (bytes) => {
      try {
        return packr.unpack(bytes)
      } catch (err) {
        throw new MalformedFrameError(`frame is not valid msgpack: ${(err as Error).message}`)
      }
    }
  }
}
