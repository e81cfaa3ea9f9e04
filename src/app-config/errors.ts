import { defineError } from '../errors/errors.js'
import { RejectionError } from '../errors/roost-error.js'

/**
 * A roost.toml that cannot be used: a TOML syntax error, a key the schema does not know, a
 * value of the wrong shape, or settings that contradict each other. The message names the
 * file, the line and the key path (`services[0].ports[1].handlers`); `details` carries them as
 * `file`, `line`, `column` (syntax errors) and `path`.
 */
export const AppConfigError = defineError('AppConfigError', 'ERR_APP_CONFIG', RejectionError)
export type AppConfigError = InstanceType<typeof AppConfigError>

/** No app of that name is known to the cluster (no services row and no machines). */
export const AppNotFoundError = defineError('AppNotFoundError', 'ERR_APP_NOT_FOUND', RejectionError)
export type AppNotFoundError = InstanceType<typeof AppNotFoundError>
