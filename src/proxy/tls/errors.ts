import { defineError } from '../../errors/errors.js'
import { RejectionError } from '../../errors/roost-error.js'

/**
 * A certificate, key or CA is unusable: it does not parse, the key does not match, it does not
 * cover the hostname, it expired, or a sealed key fails its authentication tag.
 */
export const CertError = defineError('CertError', 'ERR_CERT', RejectionError)
export type CertError = InstanceType<typeof CertError>
/** A certificate was to be issued by this host's CA, but this host has none (`--ca-dir`). */
export const NoCaError = defineError('NoCaError', 'ERR_NO_CA', RejectionError)
export type NoCaError = InstanceType<typeof NoCaError>
/** No certificate row exists for that hostname. */
export const CertNotFoundError = defineError('CertNotFoundError', 'ERR_CERT_NOT_FOUND', RejectionError)
export type CertNotFoundError = InstanceType<typeof CertNotFoundError>
