import { RejectionError, RoostError, registerErrorCode } from '../../errors/roost-error.js'

type Details = Record<string, unknown> | undefined

function define<C extends string> (code: C, base: typeof RoostError = RoostError) {
  const cls = class extends base {
    static readonly code: C = code
    constructor (message: string, details?: Details) {
      super(code, message, details)
    }
  }
  registerErrorCode(code, cls)
  return cls
}

/** A request body is over the server's limit. */
export class PayloadTooLargeError extends define('ERR_PAYLOAD_TOO_LARGE', RejectionError) {}
/** A request body is not valid JSON. */
export class InvalidJsonError extends define('ERR_INVALID_JSON', RejectionError) {}
/** A request body came without `Content-Type: application/json`. */
export class UnsupportedMediaTypeError extends define('ERR_UNSUPPORTED_MEDIA_TYPE', RejectionError) {}
/** No API route has this path. */
export class RouteNotFoundError extends define('ERR_NOT_FOUND', RejectionError) {}
/** The path exists but not with this method. */
export class MethodNotAllowedError extends define('ERR_METHOD_NOT_ALLOWED', RejectionError) {}
/** The API client gave up waiting for a response. */
export class RequestTimeoutError extends define('ERR_REQUEST_TIMEOUT') {}
/** The API answered with something that is not one of its responses (a proxy's page, a cut body). */
export class BadResponseError extends define('ERR_BAD_RESPONSE') {}

for (const cls of [
  PayloadTooLargeError, InvalidJsonError, UnsupportedMediaTypeError, RouteNotFoundError, MethodNotAllowedError,
  RequestTimeoutError, BadResponseError
]) registerErrorCode(cls.code, cls)

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_INVALID_ARGUMENT: 400,
  ERR_INVALID_MESSAGE: 400,
  ERR_INVALID_JSON: 400,
  ERR_UNSUPPORTED_MEDIA_TYPE: 400,
  ERR_IMAGE: 400,
  ERR_UNKNOWN_HOST: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_MACHINE_NOT_FOUND: 404,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_WAIT_TIMEOUT: 408,
  ERR_ILLEGAL_TRANSITION: 409,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_HOST_UNREACHABLE: 503,
  ERR_ASK_TIMEOUT: 503
}

/** The HTTP status the Machines API answers an error code with (500 for any code not listed). */
export function httpStatusForCode (code: string): number {
  return STATUS_BY_CODE[code] ?? 500
}
