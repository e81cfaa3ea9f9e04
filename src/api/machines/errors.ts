import { defineError } from '../../errors/errors.js'
import { RejectionError } from '../../errors/roost-error.js'

/** A request body is over the server's limit. */
export const PayloadTooLargeError = defineError('PayloadTooLargeError', 'ERR_PAYLOAD_TOO_LARGE', RejectionError)
export type PayloadTooLargeError = InstanceType<typeof PayloadTooLargeError>
/** A request body is not valid JSON. */
export const InvalidJsonError = defineError('InvalidJsonError', 'ERR_INVALID_JSON', RejectionError)
export type InvalidJsonError = InstanceType<typeof InvalidJsonError>
/** A request body came without `Content-Type: application/json`. */
export const UnsupportedMediaTypeError = defineError('UnsupportedMediaTypeError', 'ERR_UNSUPPORTED_MEDIA_TYPE', RejectionError)
export type UnsupportedMediaTypeError = InstanceType<typeof UnsupportedMediaTypeError>
/** No API route has this path. */
export const RouteNotFoundError = defineError('RouteNotFoundError', 'ERR_NOT_FOUND', RejectionError)
export type RouteNotFoundError = InstanceType<typeof RouteNotFoundError>
/** The path exists but not with this method. */
export const MethodNotAllowedError = defineError('MethodNotAllowedError', 'ERR_METHOD_NOT_ALLOWED', RejectionError)
export type MethodNotAllowedError = InstanceType<typeof MethodNotAllowedError>
/** The API client gave up waiting for a response. */
export const RequestTimeoutError = defineError('RequestTimeoutError', 'ERR_REQUEST_TIMEOUT')
export type RequestTimeoutError = InstanceType<typeof RequestTimeoutError>
/** The API answered with something that is not one of its responses (a proxy's page, a cut body). */
export const BadResponseError = defineError('BadResponseError', 'ERR_BAD_RESPONSE')
export type BadResponseError = InstanceType<typeof BadResponseError>

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
  ERR_ASK_TIMEOUT: 503,
  ERR_NO_CAPACITY: 503,
  ERR_PLACEMENT: 503,
  ERR_EVENT_STREAMS_FULL: 503
}

/** The HTTP status the Machines API answers an error code with (500 for any code not listed). */
export function httpStatusForCode (code: string): number {
  return STATUS_BY_CODE[code] ?? 500
}
