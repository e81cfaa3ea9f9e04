import { defineError } from '../../errors/errors.js'
import { RejectionError, registerErrorCode } from '../../errors/roost-error.js'

/** A request body is over the server's limit. */
export class PayloadTooLargeError extends defineError('ERR_PAYLOAD_TOO_LARGE', RejectionError) {}
/** A request body is not valid JSON. */
export class InvalidJsonError extends defineError('ERR_INVALID_JSON', RejectionError) {}
/** A request body came without `Content-Type: application/json`. */
export class UnsupportedMediaTypeError extends defineError('ERR_UNSUPPORTED_MEDIA_TYPE', RejectionError) {}
/** No API route has this path. */
export class RouteNotFoundError extends defineError('ERR_NOT_FOUND', RejectionError) {}
/** The path exists but not with this method. */
export class MethodNotAllowedError extends defineError('ERR_METHOD_NOT_ALLOWED', RejectionError) {}
/** The API client gave up waiting for a response. */
export class RequestTimeoutError extends defineError('ERR_REQUEST_TIMEOUT') {}
/** The API answered with something that is not one of its responses (a proxy's page, a cut body). */
export class BadResponseError extends defineError('ERR_BAD_RESPONSE') {}

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
