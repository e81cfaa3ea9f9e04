/** Longest DNS name (RFC 1035), also the bound of a `certs` row key. */
export const MAX_HOSTNAME_LENGTH = 253

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
/**
 * A lowercase DNS name, optionally `*.`-prefixed (a wildcard covers exactly one more label): what
 * the `services` and `certs` rows accept as a hostname.
 */
export const HOSTNAME_PATTERN = `^(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}$`
