import { defineError } from '../../errors/errors.js'
import { RejectionError, registerErrorCode } from '../../errors/roost-error.js'

/**
 * A certificate, key or CA is unusable: it does not parse, the key does not match, it does not
 * cover the hostname, it expired, or a sealed key fails its authentication tag.
 */
export class CertError extends defineError('ERR_CERT', RejectionError) {}
/** A certificate was to be issued by this host's CA, but this host has none (`--ca-dir`). */
export class NoCaError extends defineError('ERR_NO_CA', RejectionError) {}
/** No certificate row exists for that hostname. */
export class CertNotFoundError extends defineError('ERR_CERT_NOT_FOUND', RejectionError) {}

// defineError registered its anonymous base; register the exported classes so errorFromWire rebuilds them.
for (const cls of [CertError, NoCaError, CertNotFoundError]) registerErrorCode(cls.code, cls)
