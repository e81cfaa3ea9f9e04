import { RoostError } from '../../errors/roost-error.js'

/** What was wrong with a chunked body; stable, for logs and counters. */
export type FramingErrorCode =
  | 'bad-chunk-size' | 'chunk-size-too-large' | 'bad-chunk-ext' | 'chunk-ext-too-large'
  | 'bad-chunk-line-end' | 'bad-chunk-data-end' | 'bad-trailer' | 'trailer-too-large'

/**
 * A chunked body broke RFC 9112 §7.1. `code` is stable ('ERR_HTTP_FRAMING'); `framingCode` says
 * what was wrong. The connection cannot be trusted past this point: close it.
 */
export class HttpFramingError extends RoostError {
  static readonly code = 'ERR_HTTP_FRAMING'
  readonly framingCode: FramingErrorCode

  constructor (framingCode: FramingErrorCode, message: string) {
    super(HttpFramingError.code, `${framingCode}: ${message}`, { framingCode })
    this.framingCode = framingCode
  }
}
