import { defineError } from '../errors/errors.js'
import { registerErrorCode, RejectionError } from '../errors/roost-error.js'

/**
 * A roost.toml that cannot be used: a TOML syntax error, a key the schema does not know, a
 * value of the wrong shape, or settings that contradict each other. The message names the
 * file, the line and the key path (`services[0].ports[1].handlers`); `details` carries them as
 * `file`, `line`, `column` (syntax errors) and `path`.
 */
export class AppConfigError extends defineError('ERR_APP_CONFIG', RejectionError) {}

/** No app of that name is known to the cluster (no services row and no machines). */
export class AppNotFoundError extends defineError('ERR_APP_NOT_FOUND', RejectionError) {}

// See src/errors/errors.ts: register the exported subclasses over defineError's base class.
for (const cls of [AppConfigError, AppNotFoundError]) registerErrorCode(cls.code, cls)
