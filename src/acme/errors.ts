import { defineError } from '../errors/errors.js'
import { RejectionError } from '../errors/roost-error.js'

/**
 * An ACME order failed: the directory is unreachable or refused the account or order, a
 * challenge was not validated, or the certificate it returned is unusable.
 */
export const AcmeError = defineError('AcmeError', 'ERR_ACME', RejectionError)
export type AcmeError = InstanceType<typeof AcmeError>
